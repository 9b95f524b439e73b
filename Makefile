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
# WeChat Pay APIv3 over HTTPS; each merchant's v3 keys are written beside the certificates (merchant-<mch_id>-v3*).
WECHAT_SANDBOX_V3_PORT ?= 8902
# The demo shop's merchant pays through WeChat Pay APIv3, as a new merchant does; `make demo WECHAT_PAY_API_VERSION=v2`
# runs it on v2 (the README's walkthroughs show both).
WECHAT_PAY_API_VERSION ?= v3
export WEB_PORT WECHAT_SANDBOX_PORT WECHAT_SANDBOX_TLS_PORT WECHAT_SANDBOX_V3_PORT

.PHONY: demo test install messages

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Web server, one Celery worker with beat, and the WeChat sandbox on embedded defaults; Ctrl-C stops all.
# honcho answers Ctrl-C by stopping every process and exiting 130: the normal end, not an error for make to report.
demo: export DJANGO_DEBUG = true
demo: export WECHAT_PAY_API_VERSION := $(WECHAT_PAY_API_VERSION)
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
	@echo "  Pay APIv3    https://127.0.0.1:$(WECHAT_SANDBOX_V3_PORT)/v3/  merchants' v3 keys in var/wechat-sandbox-tls/"
	@echo ""
	$(BIN)/honcho -f Procfile.demo start || test $$? -eq 130

# The whole suite. Without PostgreSQL/Redis in the environment it runs on the embedded
# defaults and skips (and lists) the tests that need them; .ci/run sets them.
# Two worker processes, one a core on the 2-core CI machine, each with its own test database, Redis
# databases and var/ folder (config/settings_test.py). `--dist load` hands out tests in collection
# order, so each worker keeps pytest-django's: transactional tests, whose end empties every table
# (the staff groups a migration made among them), after the others.
test: install
	$(BIN)/pytest -n 2 --dist load

# The translation catalogs brought up to date with the code's wrapped strings, then compiled to the .mo
# files Django reads: locale/zh_Hans/LC_MESSAGES/django.po (Python and templates) and djangojs.po (our
# static JS's gettext calls, and the rich-text editor's words listed in config/rich_text_editor_strings.js,
# served by the admin's jsi18n catalog). Translate the new and fuzzy entries the first steps leave
# (docs/style.md, "Translations"), run it again, and commit the four files; tests/test_translations.py
# fails while any entry is untranslated or fuzzy.
MESSAGES_IGNORE := --ignore=.venv --ignore=staticfiles --ignore=var --ignore=media --ignore=tests \
	--ignore=wechat_sandbox --ignore=bench --ignore=docs
messages: install
	DJANGO_DEBUG=true $(BIN)/python manage.py makemessages --locale=zh_Hans --extension=html,txt,py \
		--add-location=file --no-obsolete $(MESSAGES_IGNORE)
	DJANGO_DEBUG=true $(BIN)/python manage.py makemessages --locale=zh_Hans --domain=djangojs \
		--add-location=file --no-obsolete $(MESSAGES_IGNORE)
	DJANGO_DEBUG=true $(BIN)/python manage.py compilemessages --locale=zh_Hans $(MESSAGES_IGNORE)
