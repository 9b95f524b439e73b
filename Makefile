# The two commands a fresh machine needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
WEB_PORT ?= 8000
WECHAT_SANDBOX_PORT ?= 8900
# secapi/ (refunds) over TLS; the sandbox writes its CA and the merchant certificate to var/wechat-sandbox-tls/,
# where the web server and the worker read them (config/settings.py's development defaults).
WECHAT_SANDBOX_TLS_PORT ?= 8901
export WEB_PORT WECHAT_SANDBOX_PORT WECHAT_SANDBOX_TLS_PORT

.PHONY: demo test install

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Web server, one Celery worker with beat, and the WeChat sandbox on embedded defaults; Ctrl-C stops all.
# honcho answers Ctrl-C by stopping every process and exiting 130: the normal end, not an error for make to report.
demo: export DJANGO_DEBUG = true
demo: export PATH := $(abspath $(BIN)):$(PATH)
demo: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py load_demo_data
	@echo ""
	@echo "  Admin        http://127.0.0.1:$(WEB_PORT)/admin/"
	@echo "  API docs     http://127.0.0.1:$(WEB_PORT)/api/docs/"
	@echo "  API health   http://127.0.0.1:$(WEB_PORT)/api/v1/health"
	@echo "  Sandbox      http://127.0.0.1:$(WECHAT_SANDBOX_PORT)/sandbox/"
	@echo "  secapi (TLS) https://127.0.0.1:$(WECHAT_SANDBOX_TLS_PORT)/  certificates in var/wechat-sandbox-tls/"
	@echo ""
	$(BIN)/honcho -f Procfile.demo start || test $$? -eq 130

# The whole suite. Without PostgreSQL/Redis in the environment it runs on the embedded
# defaults and skips (and lists) the tests that need them; .ci/run sets them.
test: install
	$(BIN)/pytest
