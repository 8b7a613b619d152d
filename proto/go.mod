module madoguchi.dev/proto

go 1.26
