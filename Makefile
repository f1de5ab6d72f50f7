# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need first
# (Debian packages through apt-get, npm packages through npm ci), so they work on a fresh machine.

SHELL := /bin/bash
APT_PACKAGES := protobuf-compiler etcd-server etcd-client docker-registry skopeo umoci busybox-static jq zstd curl openssl attr runc iproute2 nftables conntrack
STAMP := node_modules/.shoal-deps-stamp

.PHONY: deps build test demo raft-demo clean

# System packages: installed only when one is missing, so repeated runs stay fast.
deps: $(STAMP)
$(STAMP): package-lock.json
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	npm ci --no-audit --no-fund
	@touch $(STAMP)

build: deps
	npm run --silent build
	bash src/runtime/shim/build.sh

# Every suite, one after another (scripts/test-all.sh lists them); single suites run through npm scripts.
test: build
	bash scripts/test-all.sh

# A local cluster of 3 managers and 2 workers running a web service; it stays up for you to try
# (deploy/local-cluster.sh down removes it). The Raft library's own demo: make raft-demo.
demo: build
	bash deploy/demo.sh

raft-demo: build
	bash deploy/raft-demo.sh

clean:
	rm -rf dist
