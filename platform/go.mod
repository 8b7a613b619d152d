module madoguchi.dev/platform

go 1.26
