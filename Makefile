.PHONY: test demo bench

# Every test, with what they need installed and started.
test:
	scripts/test.sh

# The gateway with two demo partners on the embedded store.
demo:
	scripts/demo.sh

# Plain Caddy reverse_proxy against partnergate, same load, one run.
bench:
	bench/run.sh
