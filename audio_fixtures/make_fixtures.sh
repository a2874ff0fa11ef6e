#!/usr/bin/env bash
# Regenerates every file in audio_fixtures/ (run with `make fixtures`; needs espeak-ng and sox).
# All outputs are WAV, PCM16 little-endian, mono. Speech is 8 kHz (telephony) and, for the
# customer utterances, also 16 kHz. Deterministic for a given espeak-ng/sox version.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

speak() {  # speak NAME VOICE "TEXT" RATES...
  local name=$1 voice=$2 text=$3; shift 3
  espeak-ng -v "$voice" -s 165 -w "$tmp/$name.wav" "$text"
  for rate in "$@"; do
    local suffix=""; [ "$rate" = 8000 ] || suffix="_$((rate / 1000))k"
    sox "$tmp/$name.wav" -r "$rate" -c 1 -b 16 -e signed-integer "$name$suffix.wav" gain -n -3
  done
}

# Prompts the platform plays (greeting via start_say, hold message while an agent rings).
speak greeting      en-us "Hello! This is Asha calling from voxgate." 8000
speak hold_message  en-us "Please stay on the line while I connect you to an agent." 8000
# The scripted sales bot's prompts.
speak bot_ask_interest en-us "I am calling about our new savings plan. Would you be interested in hearing more?" 8000
speak bot_reprompt     en-us "Sorry, I did not catch that. Are you interested? Press zero for a person." 8000
speak bot_transfer     en-us "Sure, connecting you to a colleague now." 8000
speak bot_goodbye      en-us "Thank you for your time. Goodbye!" 8000
# What simulated customers say.
speak cust_hello    en-gb "Hello? Who is this?" 8000 16000
speak cust_yes      en-gb "Yes, I am interested, tell me more." 8000 16000
speak cust_no       en-gb "No thanks, not right now." 8000 16000
speak cust_human    en-gb "Can I talk to a real person please?" 8000 16000
# What a simulated agent says on answer.
speak agent_hello   en-us+m3 "Hi, this is Ravi from the sales team. How can I help you today?" 8000

# Hold music: a soft arpeggio, 4 s.
sox -n -r 8000 -c 1 -b 16 -e signed-integer hold_music.wav \
  synth 1 sine 261.63 synth 1 sine 329.63 : synth 1 sine 392 : synth 1 sine 329.63 : synth 1 sine 261.63 gain -18
# Silence (1 s) and low-level noise (1 s, pink, about -40 dBFS: must not count as speech).
sox -n -r 8000 -c 1 -b 16 -e signed-integer silence_1s.wav trim 0 1
sox -n -r 8000 -c 1 -b 16 -e signed-integer noise_1s.wav synth 1 pinknoise gain -40 repeat 0
# DTMF tones, 100 ms each (ITU-T Q.23 pairs).
declare -A LOW=([1]=697 [2]=697 [3]=697 [4]=770 [5]=770 [6]=770 [7]=852 [8]=852 [9]=852 [star]=941 [0]=941 [hash]=941)
declare -A HIGH=([1]=1209 [2]=1336 [3]=1477 [4]=1209 [5]=1336 [6]=1477 [7]=1209 [8]=1336 [9]=1477 [star]=1209 [0]=1336 [hash]=1477)
for key in 0 1 2 3 4 5 6 7 8 9 star hash; do
  sox -n -r 8000 -c 1 -b 16 -e signed-integer "dtmf_$key.wav" \
    synth 0.1 sine "${LOW[$key]}" synth 0.1 sine mix "${HIGH[$key]}" gain -6
done
ls -l ./*.wav | awk '{s+=$5} END {print NR " files, " s " bytes"}'
