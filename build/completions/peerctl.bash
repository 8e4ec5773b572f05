# bash completion for peerctl (Peer Compute).
# Installed by install.sh as <prefix>/share/bash-completion/completions/peerctl (loaded on demand by
# bash-completion); or load it by hand: source peerctl.bash
# Completes commands, options, and --peer with the names in your trust list (read locally, no network).

_peerctl_peer_names() {
  # `peerctl peers list`: a header line, then NAME PEERID ADDRESSES; unnamed peers show "-".
  peerctl peers list 2>/dev/null | awk 'NR > 1 && $1 != "-" { print $1 } NR > 1 { print $2 }'
}

# COMPREPLY = the words of $1 that start with the word being completed.
_peerctl_reply() {
  mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

_peerctl() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n = || return
  else
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi

  # The command is the first word that is not an option; "peers" takes a sub-command.
  local command="" sub="" i
  for ((i = 1; i < cword; i++)); do
    case "${words[i]}" in
      --) return 0 ;; # after "--" comes the container's command: nothing to offer
      -*) ;;
      *)
        if [ -z "$command" ]; then
          command="${words[i]}"
        elif [ "$command" = peers ] && [ -z "$sub" ]; then
          sub="${words[i]}"
        fi
        ;;
    esac
  done

  case "$prev" in
    --peer)
      _peerctl_reply "$(_peerctl_peer_names)"
      return 0
      ;;
    --name | --cpu | --memory | --port | --env | --tail | --addr | --expires)
      # Free values: nothing sensible to offer.
      return 0
      ;;
  esac

  local opts
  case "$command" in
    "") _peerctl_reply "init id invite peers deploy status logs stop --help --version"; return 0 ;;
    init) opts="--force --json --help" ;;
    id) opts="--json --help" ;;
    invite) opts="--name --addr --expires --json --help" ;;
    peers)
      case "$sub" in
        "") _peerctl_reply "add list remove --help"; return 0 ;;
        add) opts="--name --addr --help" ;;
        list) opts="--json --help" ;;
        remove)
          if [[ "$cur" != -* ]]; then
            _peerctl_reply "$(_peerctl_peer_names)"
            return 0
          fi
          opts="--help"
          ;;
        *) return 0 ;;
      esac
      ;;
    deploy) opts="--peer --name --cpu --memory --port --env --writable --json --help" ;;
    status) opts="--peer --json --help" ;;
    logs) opts="--peer --follow -f --tail --help" ;;
    stop) opts="--peer --json --help" ;;
    *) return 0 ;;
  esac
  # Options when asked for (a dash) or when nothing is typed yet; other words are images and names.
  if [ -z "$cur" ] || [[ "$cur" == -* ]]; then
    _peerctl_reply "$opts"
  fi
  return 0
}

complete -F _peerctl peerctl
