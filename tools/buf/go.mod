module madoguchi.dev/tools/buf

go 1.26
