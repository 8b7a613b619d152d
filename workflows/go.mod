module madoguchi.dev/workflows

go 1.26
