#!/usr/bin/with-contenv bashio
# Map the add-on options to naila-server flags (docs/server.md lists them all).
set -e

args=(
  --uri "tcp://0.0.0.0:10300"
  --audio-socket-host 0.0.0.0
  --audio-socket-port 9999
  --log-level "$(bashio::config 'log_level' | tr '[:lower:]' '[:upper:]')"
  --stt-language "$(bashio::config 'stt_language')"
  --stt-beam-size "$(bashio::config 'stt_beam_size')"
  --stt-compute-type "$(bashio::config 'stt_compute_type')"
  --llm-max-tokens "$(bashio::config 'llm_max_tokens')"
  --system-prompt "$(bashio::config 'system_prompt')"
  --history-turns "$(bashio::config 'history_turns')"
  --speculation "$(bashio::config 'speculation')"
)

bashio::config.has_value 'stt_model' && args+=(--stt-model "$(bashio::config 'stt_model')")
bashio::config.has_value 'llm_model' && args+=(--llm-model "$(bashio::config 'llm_model')")
bashio::config.has_value 'tts_voice' && args+=(--tts-voice "$(bashio::config 'tts_voice')")
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
for address in $(bashio::config 'allow'); do
  args+=(--allow "$address")
done
bashio::config.true 'vision' && args+=(--vision)

if bashio::config.true 'mqtt_metrics' && bashio::services.available mqtt; then
  args+=(
    --mqtt-host "$(bashio::services mqtt 'host')"
    --mqtt-port "$(bashio::services mqtt 'port')"
    --mqtt-username "$(bashio::services mqtt 'username')"
    --mqtt-password "$(bashio::services mqtt 'password')"
  )
fi

# Tell Home Assistant's Wyoming integration where we are.
bashio::discovery wyoming "$(bashio::var.json uri "tcp://$(hostname):10300")" >/dev/null \
  || bashio::log.warning "Wyoming discovery could not be sent"

bashio::log.info "Starting NAILA AI server"
exec /opt/naila/bin/naila-server "${args[@]}"
