# The two commands:
#   make run    reconcile the example bench (the local cluster when KUBECONFIG is unset)
#   make test   install what the tests need and run the whole suite
.PHONY: run test binaries cluster-up cluster-down

run:
	bash hack/run.sh

test:
	bash hack/run-tests.sh

binaries:
	bash hack/localcluster/build-binaries.sh

cluster-up: binaries
	python3 hack/localcluster/localcluster.py up

cluster-down:
	python3 hack/localcluster/localcluster.py down
