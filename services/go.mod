module madoguchi.dev/services

go 1.26
