module madoguchi.dev/tools/temporal

go 1.26
