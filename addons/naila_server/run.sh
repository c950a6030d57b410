#!/usr/bin/with-contenv bashio
# Map the add-on options to the server's environment variables (docs/server.md lists them all);
# an option left empty keeps the server's own default.
set -euo pipefail

declare -A variables=(
  [log_level]=LOG_LEVEL
  [stt_model]=STT_MODEL
  [stt_language]=STT_LANGUAGE
  [stt_beam_size]=STT_BEAM_SIZE
  [stt_compute_type]=STT_COMPUTE_TYPE
  [llm_model]=LLM_MODEL
  [llm_max_tokens]=LLM_MAX_TOKENS
  [system_prompt]=LLM_SYSTEM_PROMPT
  [history_turns]=LLM_HISTORY_TURNS
  [kv_cache]=LLM_KV_CACHE
  [kv_states]=LLM_KV_STATES
  [kv_state_mb]=LLM_KV_STATE_MB
  [copy_guard_tokens]=LLM_COPY_GUARD_TOKENS
  [tts_voice]=TTS_VOICE
  [speculation]=SPECULATION
  [vision]=VISION_ENABLED
  [mqtt_tls_ca_file]=MQTT_TLS_CA_FILE
  [mqtt_tls_cert_file]=MQTT_TLS_CERT_FILE
  [mqtt_tls_key_file]=MQTT_TLS_KEY_FILE
)
for option in "${!variables[@]}"; do
  if bashio::config.has_value "${option}"; then
    export "${variables[${option}]}=$(bashio::config "${option}")"
  fi
done
allow="$(bashio::config 'allow')"
export AUDIO_SOCKET_ALLOW="${allow//$'\n'/,}"

# Audio socket token: the auth_token option, else one generated once into /share, where the
# gateway add-on reads it (docs/security.md). Passed in the environment, not on the command line.
token_file="${NAILA_TOKEN_FILE:-/share/naila/audio_socket_token}"
if bashio::config.has_value 'auth_token'; then
  AUDIO_SOCKET_TOKEN="$(bashio::config 'auth_token')"
else
  if [ ! -s "${token_file}" ]; then
    mkdir -p "$(dirname "${token_file}")"
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "${token_file}.new" \
      && mv "${token_file}.new" "${token_file}")
    bashio::log.info "Generated the gateway token in ${token_file}"
  fi
  AUDIO_SOCKET_TOKEN="$(cat "${token_file}")"
fi
export AUDIO_SOCKET_TOKEN

if bashio::config.true 'mqtt_metrics' && bashio::services.available mqtt; then
  MQTT_HOST="$(bashio::services mqtt 'host')"
  MQTT_PORT="$(bashio::services mqtt 'port')"
  MQTT_USERNAME="$(bashio::services mqtt 'username')"
  MQTT_PASSWORD="$(bashio::services mqtt 'password')"
  export MQTT_HOST MQTT_PORT MQTT_USERNAME MQTT_PASSWORD
fi

# Tell Home Assistant's Wyoming integration where we are.
bashio::discovery wyoming "$(bashio::var.json uri "tcp://$(hostname):10300")" >/dev/null \
  || bashio::log.warning "Wyoming discovery could not be sent"

bashio::log.info "Starting NAILA AI server"
exec /opt/naila/bin/naila-server
