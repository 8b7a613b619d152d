module madoguchi.dev/law

go 1.26.0

require (
	github.com/rickar/cal/v2 v2.1.13
	sigs.k8s.io/yaml v1.6.0
)

require go.yaml.in/yaml/v2 v2.4.2 // indirect
