module madoguchi.dev/devstack

go 1.26
