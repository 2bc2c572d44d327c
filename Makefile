# openvpn 2.6.14-1+deb13u4 (trixie stable update) and 2.6.14-0+deb12u3 (bookworm LTS) - build and
# test driver. TARGET=trixie (default) or bookworm selects the release (targets/<name>/).
# Everything runs as root on a Debian 12/13 host; `make help` lists the targets.
SHELL := /bin/bash
S := scripts
QUILT := quilt --quiltrc=$(CURDIR)/scripts/quiltrc
TREE := $(if $(filter bookworm,$(TARGET)),build/bookworm,build)/openvpn-2.6.14

.DEFAULT_GOAL := help
.PHONY: help package package-all deps source tree refresh-patches refresh-env check clean \
        unit-tests unit-tests-i386 vm-check vm-archive-tests vm-dhparam-time vm-upgrade bench bench-profile bench-scan repo piuparts pu-request

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/  make \1\t\2/' | expand -t 24

package: deps ## fetch+verify the archive's source, build ours + binaries, debdiff, lintian: trixie -> out/; TARGET=bookworm -> out/bookworm/
	$(S)/package.sh

package-all: deps ## README command 1: make package for trixie (out/) and bookworm (out/bookworm/)
	TARGET=trixie $(S)/package.sh
	TARGET=bookworm $(S)/package.sh

check: deps ## README command 2: every test (builds both targets first unless out/ holds them); summary on the last line
	$(S)/check.sh

deps: ## install the host tools (apt-get; only when something is missing)
	$(S)/host-deps.sh

source: deps ## only the source package (.dsc, .debian.tar.xz, .orig.tar.gz) -> out/source/
	$(S)/fetch.sh
	$(S)/source.sh $(CURDIR)/out/source

tree: deps ## patched tree build/openvpn-2.6.14 (bookworm: build/bookworm/...) for editing with quilt --quiltrc=scripts/quiltrc
	$(S)/fetch.sh
	$(S)/materialise.sh $(CURDIR)/$(TREE)
	@echo "Edit with:  cd $(TREE) && $(QUILT) pop|push|edit|refresh"
	@echo "Then:       make refresh-patches"

refresh-patches: ## copy our patches (those in debian/patches/series.append) from build/ back (into targets/TARGET/patches/ for a target's copy)
	$(S)/refresh-patches.sh $(CURDIR)/$(TREE)

refresh-env: deps ## recreate the cached build tarball and lintian chroot of TARGET (default trixie), e.g. after a point release
	$(S)/env.sh --refresh

clean: ## remove out/ and build/ (the download/environment cache in /var/cache/openvpn-deb13u4 stays)
	rm -rf out build

# ---- check groups: each target calls its script ----
unit-tests: ## host unit-test builds: DCO drivers on the whole series, on stock and on upstream's picks alone, ASan (scripts/unit-tests.sh)
	$(S)/unit-tests.sh

unit-tests-i386: ## not in check (~14 min): the package build with dh_auto_test natively on i386 (scripts/unit-tests-i386.sh)
	$(S)/unit-tests-i386.sh

vm-check: ## DCO storm test in a trixie VM (scripts/vm-check.sh)
	$(S)/vm-check.sh

vm-check-bookworm: ## DCO storm test in a bookworm VM: archive deb12u2 + dco-dkms deb12u1 must fail, ours deb12u3 + deb12u2 must pass (scripts/vm-check-bookworm.sh)
	$(S)/vm-check-bookworm.sh

vm-archive-tests: ## the package's own isolation-machine autopkgtests (server-setup-with-ca, -with-static-key) in the VM, on deb13u4 and deb13u3 (scripts/vm-archive-tests.sh)
	$(S)/vm-archive-tests.sh

vm-dhparam-time: ## how long the archive CA test's `easyrsa gen-dh` (openssl dhparam 2048) takes in the TCG VM (RUNS=3): sizes vm-archive-tests' timeout (scripts/vm-dhparam-time.sh)
	$(S)/vm-dhparam-time.sh $(RUNS)

vm-upgrade: ## upgrade autopkgtest in a systemd VM: deb13u3 DCO server + clients, our repo, apt upgrade, restart, roll back (scripts/vm-upgrade.sh)
	$(S)/vm-upgrade.sh

bench: ## DCO storm benchmark at scale (issue 9): N 128..1024 x deb13u3/deb13u4/2.7.8-bpo, stress, distinct CN, soak; BENCH_ESTIMATE=1 prints the matrix + wall time (scripts/vm-bench.sh)
	$(S)/vm-bench.sh

bench-profile: ## where the server's CPU per reaped instance goes: perf in the guest, N=1024 without stress, deb13u4 vs 2.7.8 -> out/bench-profile/profile.txt (scripts/bench-profile.sh)
	$(S)/bench-profile.sh

bench-scan: ## what the deferred close's slot scan costs per storm, N 128..1024, on the host and in the TCG VM (NO_VM=1: host only; scripts/bench-deferred-scan.sh)
	$(S)/bench-deferred-scan.sh

# ---- bookworm kernel module: openvpn-dco-dkms 0.0+git20231103-1~deb12u2 (#1140548) ----
.PHONY: dco-dkms
dco-dkms: deps ## bookworm's openvpn-dco-dkms deb12u2 (#1140548 fixes): fetch+verify, source, sbuild, debdiff, DKMS build check -> out/bookworm/dco-dkms/ (scripts/dco-dkms.sh)
	$(S)/dco-dkms.sh

# ---- release: repository for trixie servers, piuparts, the trixie-pu request ----
repo: deps ## signed apt repository of out/*.deb in out/repo/ + key, .sources, pin (scripts/repo.sh)
	$(S)/repo.sh

piuparts: deps ## piuparts on trixie: install/purge, deb13u3 -> deb13u4 upgrade/remove/purge (scripts/piuparts.sh)
	$(S)/piuparts.sh

pu-request: deps ## out/trixie-pu.txt (release.debian.org request from the last check/bench results) + out/salsa/*.patch (scripts/pu-request.sh)
	$(S)/pu-request.sh
