# Shortcuts for ./grc (the README's commands work without make).
.PHONY: run test setup
run:
	./grc run
test:
	./grc test
setup:
	./grc setup
