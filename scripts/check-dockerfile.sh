#!/usr/bin/env bash
# The Dockerfile, checked without a container engine (CI machines here cannot pull base images
# or start containers; README "Running it" says more). It reads the Dockerfile and:
#   1. runs the builder stage's commands on this machine: its `cargo build` (without `--release`
#      unless CHECK_DOCKERFILE_RELEASE=1, see below) and, in release mode, its `strip`;
#   2. checks what the runtime stage copies exists (the binary from the builder, plugins.toml
#      from the context, not left out by .dockerignore), that ENTRYPOINT is the copied binary,
#      that CHILLPROXY_LISTEN, EXPOSE and the HEALTHCHECK URL name one port, and that the
#      image's Rust is at least the workspace's rust-version;
#   3. starts that binary as the image would (its ENV, the config at its image path under a
#      temporary root, WORKDIR as the working directory, as an unprivileged user when the stage
#      has USER and this runs as root), on a free loopback port instead of 0.0.0.0:8080, and
#      asks its HEALTHCHECK URL (/health) with curl; then /ready, then stops it with the
#      STOPSIGNAL and expects a clean exit.
#
# A release build (LTO) takes several minutes on a 2-core machine, so by default the builder's
# command runs without `--release`: the same package, features and lock file, the dev profile
# the test suite builds anyway. CHECK_DOCKERFILE_RELEASE=1 runs the command exactly as written.
# The image builds on Alpine (musl); this builds for the host's target: what differs is the libc,
# not the code. Any command in the builder's RUN that this script does not know fails the check,
# so a Dockerfile change cannot pass unexamined.
set -euo pipefail
cd "$(dirname "$0")/.."
dockerfile=${1:-Dockerfile}
release=${CHECK_DOCKERFILE_RELEASE:-0}

fail() {
    echo "check-dockerfile: $*" >&2
    exit 1
}
say() { echo "   $*"; }

# Instructions one per line: continuations joined, comments and blank lines dropped.
instructions=$(sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$dockerfile" | sed -e 's/^[[:space:]]*//' | grep -v -e '^#' -e '^$')

# Stages: FROM lines, in order. The runtime stage is the last one; the builder is the stage the
# runtime copies from.
stage=-1
declare -a stage_name stage_image
declare -A builder_runs runtime_env
runtime_copies=()
while IFS= read -r line; do
    keyword=${line%% *}
    rest=${line#* }
    case ${keyword^^} in
        FROM)
            stage=$((stage + 1))
            stage_image[stage]=$(awk '{print $1}' <<<"${rest}")
            stage_name[stage]=$(awk 'toupper($2) == "AS" {print $3}' <<<"${rest}")
            ;;
        RUN) builder_runs[${stage}]+="${rest}"$'\n' ;;
        WORKDIR) eval "workdir_${stage}=\${rest}" ;;
        COPY) runtime_copies+=("${stage} ${rest}") ;;
        ENV)
            # KEY=VALUE pairs (values without spaces or quotes, as this Dockerfile has them).
            for pair in ${rest}; do
                [[ ${pair} == *=* ]] || fail "ENV ${rest}: only KEY=VALUE pairs are understood"
                runtime_env[${stage}:${pair%%=*}]=${pair#*=}
            done
            ;;
        EXPOSE) expose=${rest%%/*} ;;
        HEALTHCHECK) healthcheck=${rest#*CMD } ;;
        USER) run_user=${rest} ;;
        ENTRYPOINT) entrypoint=$(sed -e 's/^\[[[:space:]]*"//' -e 's/".*//' <<<"${rest}") ;;
        STOPSIGNAL) stopsignal=${rest} ;;
        ARG | LABEL | CMD | VOLUME | SHELL) ;;
        *) fail "unknown instruction ${keyword}" ;;
    esac
done <<<"${instructions}"
[ "${stage}" -ge 1 ] || fail "expected a builder and a runtime stage"
runtime=${stage}

# The builder: the stage named in the runtime's COPY --from.
builder=
for copy in "${runtime_copies[@]}"; do
    read -r at args <<<"${copy}"
    if [ "${at}" = "${runtime}" ] && [[ ${args} == --from=* ]]; then
        from=${args%% *}
        from=${from#--from=}
        for i in "${!stage_name[@]}"; do
            [ "${stage_name[i]}" = "${from}" ] && builder=${i}
        done
    fi
done
[ -n "${builder}" ] || fail "the runtime stage copies from no named stage"
builder_workdir_var="workdir_${builder}"
builder_workdir=${!builder_workdir_var:-/}
runtime_workdir_var="workdir_${runtime}"
runtime_workdir=${!runtime_workdir_var:-/}
echo "== Dockerfile: builder stage ${stage_name[builder]} (${stage_image[builder]}), runtime ${stage_image[runtime]}"

# The image's Rust against the workspace's rust-version.
image_rust=$(sed -n 's/^rust:\([0-9][0-9.]*\).*/\1/p' <<<"${stage_image[builder]}")
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "${image_rust}" ] || fail "the builder image ${stage_image[builder]} names no Rust version"
if [ "$(printf '%s\n%s\n' "${msrv}" "${image_rust}" | sort -V | head -1)" != "${msrv}" ]; then
    fail "the builder's Rust ${image_rust} is older than the workspace's rust-version ${msrv}"
fi
say "builder Rust ${image_rust} >= rust-version ${msrv} (this machine builds with $(rustc --version | awk '{print $2}'))"

# .dockerignore: the context leaves out no tracked file outside what it means to leave out.
if [ -f .dockerignore ]; then
    while IFS= read -r pattern; do
        pattern=${pattern%/}
        [ -z "${pattern}" ] || [[ ${pattern} == \#* ]] && continue
        [[ ${pattern} == *[*?[]* ]] && fail ".dockerignore pattern ${pattern}: wildcards are not checked here"
        if git ls-files --error-unmatch -- "${pattern}" >/dev/null 2>&1; then
            say ".dockerignore leaves out tracked ${pattern} (intended: not build input)"
        fi
    done <.dockerignore
fi

# 1. The builder's commands.
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "${target_dir}" ] || fail "cargo metadata names no target directory"
profile=release
[ "${release}" = 1 ] || profile=debug
built=
while IFS= read -r run; do
    [ -n "${run}" ] || continue
    # shellcheck disable=SC2001 # a regex over whitespace
    IFS=$'\n' read -r -d '' -a commands < <(sed 's/[[:space:]]*&&[[:space:]]*/\n/g' <<<"${run}" && printf '\0')
    for command in "${commands[@]}"; do
        command=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"${command}")
        case ${command} in
            "apk add"*) say "skipped (Alpine's package manager): ${command}" ;;
            "cargo build"*)
                [[ ${command} == *--locked* ]] || fail "the builder's cargo build is not --locked: ${command}"
                local_command=${command}
                # shellcheck disable=SC2001
                [ "${release}" = 1 ] || local_command=$(sed 's/[[:space:]]--release\b//' <<<"${command}")
                echo "== builder: ${local_command}"
                ${local_command}
                built=yes
                ;;
            "strip "*)
                binary=${command#strip }
                if [ "${release}" = 1 ]; then
                    echo "== builder: ${command}"
                    strip "${target_dir}/${binary#target/}"
                else
                    say "skipped without --release (a debug binary keeps its symbols): ${command}"
                fi
                ;;
            *) fail "the builder runs ${command}; teach scripts/check-dockerfile.sh what it means" ;;
        esac
    done
done <<<"${builder_runs[${builder}]}"
[ -n "${built}" ] || fail "the builder stage runs no cargo build"

# 2. The runtime stage's files, staged under a temporary root.
root=$(mktemp -d)
pid=
cleanup() {
    if [ -n "${pid}" ] && kill -0 "${pid}" 2>/dev/null; then
        kill -KILL "${pid}" 2>/dev/null || true
    fi
    rm -rf "${root}"
}
trap cleanup EXIT
for copy in "${runtime_copies[@]}"; do
    read -r at args <<<"${copy}"
    [ "${at}" = "${runtime}" ] || continue
    if [[ ${args} == --from=* ]]; then
        read -r _ source destination <<<"${args}"
        relative=${source#"${builder_workdir%/}"/}
        [ "${relative}" != "${source}" ] || fail "COPY ${args}: ${source} is outside the builder's WORKDIR ${builder_workdir}"
        local_source=${relative}
        if [[ ${relative} == target/* ]]; then
            local_source=${relative#target/}
            local_source="${target_dir}/${local_source/#release\//${profile}/}"
        fi
    else
        read -r source destination <<<"${args}"
        local_source=${source}
        git ls-files --error-unmatch -- "${source}" >/dev/null 2>&1 || fail "COPY ${source}: not a tracked file"
    fi
    [ -f "${local_source}" ] || fail "COPY ${args}: ${local_source} does not exist"
    mkdir -p "${root}$(dirname "${destination}")"
    cp "${local_source}" "${root}${destination}"
    say "COPY ${source} -> ${destination} (from ${local_source})"
done
[ -n "${entrypoint:-}" ] || fail "no ENTRYPOINT"
[ -x "${root}${entrypoint}" ] || fail "ENTRYPOINT ${entrypoint} is not a copied executable"

# One port: CHILLPROXY_LISTEN, EXPOSE, the HEALTHCHECK URL.
listen=${runtime_env[${runtime}:CHILLPROXY_LISTEN]:-}
health_url=$(grep -o 'http://[^ ]*' <<<"${healthcheck:-}" || true)
if [ -z "${listen}" ] || [ -z "${expose:-}" ] || [ -z "${health_url}" ]; then
    fail "expected CHILLPROXY_LISTEN (${listen}), EXPOSE (${expose:-}) and a HEALTHCHECK URL (${health_url})"
fi
health_port=$(sed -n 's#^http://[^:/]*:\([0-9]*\)/.*#\1#p' <<<"${health_url}")
health_path=/${health_url#http://*/}
if [ "${listen##*:}" != "${expose}" ] || [ "${health_port}" != "${expose}" ]; then
    fail "ports differ: CHILLPROXY_LISTEN ${listen}, EXPOSE ${expose}, HEALTHCHECK ${health_url}"
fi
say "CHILLPROXY_LISTEN ${listen}, EXPOSE ${expose}, HEALTHCHECK ${health_url}: one port"

# 3. The binary as the image runs it.
port=
for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${candidate}") 2>/dev/null; then
        port=${candidate}
        break
    fi
done
[ -n "${port}" ] || fail "no free loopback port"
env_args=()
for key in "${!runtime_env[@]}"; do
    [[ ${key} == "${runtime}:"* ]] || continue
    name=${key#*:}
    value=${runtime_env[${key}]}
    [[ ${value} == /* ]] && value="${root}${value}"
    [ "${name}" = CHILLPROXY_LISTEN ] && value="127.0.0.1:${port}"
    env_args+=("${name}=${value}")
done
# `docker run -e CHILLPROXY_SECRET=...`, as the Dockerfile's header runs it.
env_args+=("CHILLPROXY_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')")
workdir="${root}${runtime_workdir}"
mkdir -p "${workdir}"
as_user=()
if [ -n "${run_user:-}" ] && [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    chmod 755 "${root}"
    chown -R nobody "${workdir}"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    say "USER ${run_user}: running as nobody"
fi
log="${root}/chillproxy.log"
echo "== runtime: ${entrypoint} on 127.0.0.1:${port} (the image's ${listen}), in ${runtime_workdir}"
(cd "${workdir}" && exec env -i PATH=/usr/bin:/bin "${env_args[@]}" "${as_user[@]}" "${root}${entrypoint}") >"${log}" 2>&1 &
pid=$!
url="http://127.0.0.1:${port}${health_path}"
for _ in $(seq 1 150); do
    if body=$(curl -fsS --max-time 2 "${url}" 2>/dev/null); then
        break
    fi
    kill -0 "${pid}" 2>/dev/null || {
        cat "${log}" >&2
        fail "the binary exited before ${health_path} answered"
    }
    sleep 0.2
done
[ -n "${body:-}" ] || {
    cat "${log}" >&2
    fail "${url} did not answer in 30 s"
}
grep -q '"status":"ok"' <<<"${body}" || fail "${health_path} answered ${body}"
say "GET ${health_path}: ${body}"
ready=$(curl -sS --max-time 2 -w ' %{http_code}' "http://127.0.0.1:${port}/ready")
[ "${ready##* }" = 200 ] || fail "GET /ready answered ${ready}"
say "GET /ready: ${ready% *}"
signal=${stopsignal:-SIGTERM}
kill -s "${signal#SIG}" "${pid}"
status=0
wait "${pid}" || status=$?
pid=
[ "${status}" = 0 ] || {
    cat "${log}" >&2
    fail "the binary exited with ${status} after ${signal}"
}
say "${signal}: stopped cleanly"
echo "== Dockerfile checked (${profile} build)"
