#!/usr/bin/with-contenv bashio
# Map add-on options (lower-case environment variable names) to the gateway's environment.
set -euo pipefail

for option in mqtt_host mqtt_port mqtt_username mqtt_password mqtt_prefix gateway_id \
    mqtt_tls_ca_file mqtt_tls_cert_file mqtt_tls_key_file \
    ai_server_host ai_server_port ai_server_standby ai_server_token ai_server_protocol \
    webrtc_ice_servers webrtc_ice_addresses webrtc_opus_bitrate webrtc_jitter_frames \
    http_token http_tls_cert_file http_tls_key_file \
    audio_vad_mode audio_vad_threshold audio_silence_frames audio_sample_rate log_level \
    audio_end_of_turn audio_end_of_turn_min_silence audio_end_of_turn_max_silence \
    audio_end_of_turn_verdict_wait audio_end_of_turn_probe audio_end_of_turn_threshold \
    audio_echo audio_echo_max_delay audio_echo_margin_db \
    audio_echo_onset_frames audio_echo_reference_delay listening_mode wake_word \
    listening_follow_up_seconds wake_word_command_seconds wake_word_preroll_seconds \
    ai_server_keepalive media_timeout media_max_bytes media_max_seconds; do
    if bashio::config.has_value "${option}"; then
        export "${option^^}=$(bashio::config "${option}")"
    fi
done

# No broker configured: use the one the Supervisor provides (services: mqtt:need).
if ! bashio::config.has_value 'mqtt_host' && bashio::services.available 'mqtt'; then
    MQTT_HOST="$(bashio::services mqtt 'host')"
    MQTT_PORT="$(bashio::services mqtt 'port')"
    MQTT_USERNAME="$(bashio::services mqtt 'username')"
    MQTT_PASSWORD="$(bashio::services mqtt 'password')"
    export MQTT_HOST MQTT_PORT MQTT_USERNAME MQTT_PASSWORD
fi

# No ai_server_token: the token the AI server add-on generated on this machine (docs/security.md).
token_file="${NAILA_TOKEN_FILE:-/share/naila/audio_socket_token}"
if [ -z "${AI_SERVER_TOKEN:-}" ]; then
    if [ -s "${token_file}" ]; then
        AI_SERVER_TOKEN="$(cat "${token_file}")"
        export AI_SERVER_TOKEN
        bashio::log.info "AI server token from ${token_file}"
    else
        bashio::log.warning "No ai_server_token and no ${token_file}: connecting without a token"
    fi
fi

# The device page: Home Assistant ingress (the Supervisor's proxy needs no token: HA logged the
# user in); any other client (a phone on the LAN at :8099) needs the access token.
HTTP_HOST=0.0.0.0
HTTP_PORT="$(bashio::addon.ingress_port 2>/dev/null || echo 8099)"
HTTP_TRUSTED_PROXY=172.30.32.2
export HTTP_HOST HTTP_PORT HTTP_TRUSTED_PROXY
page_token_file="${NAILA_PAGE_TOKEN_FILE:-/data/http_token}"
if [ -z "${HTTP_TOKEN:-}" ]; then
    if [ ! -s "${page_token_file}" ] \
        && (umask 077; head -c 24 /dev/urandom | base64 | tr '+/' '-_' > "${page_token_file}") 2>/dev/null; then
        bashio::log.info "Generated the device page's access token (${page_token_file})"
    fi
    if [ -s "${page_token_file}" ]; then
        HTTP_TOKEN="$(cat "${page_token_file}")"
        export HTTP_TOKEN
    else
        bashio::log.warning "No http_token: outside the NAILA panel the page is refused"
        HTTP_HOST=127.0.0.1  # nothing but a local proxy may reach it without a token
    fi
fi

if [ -z "${AI_SERVER_HOST:-}" ]; then
    bashio::exit.nok "Set ai_server_host to the machine running the NAILA AI server."
fi

bashio::log.info "Starting NAILA gateway (AI server ${AI_SERVER_HOST})"
exec /opt/naila/bin/naila-gateway
