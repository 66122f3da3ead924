#!/usr/bin/env bash
# Makes sure this machine's PostgreSQL and RabbitMQ are running; starts whichever is down.
# Sourced by scripts/up, scripts/test and .ci/run.
set -euo pipefail

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return 0; fi
  echo "starting PostgreSQL…"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && return 0
    sleep 1
  done
  echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
  return 1
}

ensure_rabbitmq() {
  if rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then return 0; fi
  echo "starting RabbitMQ…"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    rabbitmq-diagnostics -q check_running >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "RabbitMQ did not come up on 127.0.0.1:5672" >&2
  return 1
}

# The admin app's browser tests drive Debian's Chromium through chromedriver.
ensure_chromium() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return 0; fi
  echo "installing chromium and chromium-driver for the browser tests…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y chromium chromium-driver >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y chromium chromium-driver >/dev/null; }
}

# The fuzz test (e2e/tests/fuzz) runs schemathesis from a virtualenv under target/, made from
# the pinned e2e/schemathesis-requirements.txt and reused while that file is unchanged.
ensure_schemathesis() {
  local venv=target/schemathesis requirements=e2e/schemathesis-requirements.txt
  local stamp
  stamp="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ -x "$venv/bin/schemathesis" && "$(cat "$venv/.requirements" 2>/dev/null)" == "$stamp" ]]; then
    return 0
  fi
  echo "installing schemathesis into $venv…"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --requirement "$requirements"
  "$venv/bin/schemathesis" --version
  echo "$stamp" > "$venv/.requirements"
}

ensure_services() {
  ensure_postgres
  ensure_rabbitmq
}
