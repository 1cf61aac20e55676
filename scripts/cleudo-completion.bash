# bash completion for cleudo(1): commands, options, statuses, languages.
# Install as $(PREFIX)/share/bash-completion/completions/cleudo, or source it.

_cleudo()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="run submit get wait logs cancel rerun ls workers files help"
    local global="--endpoint --token --connect-timeout --help -h"
    local statuses="queued dispatched running succeeded failed timed_out killed
                    memory_limit output_limit cancelled rejected lost internal_error"
    local task_opts="--lang --stdin -e --env --file --collect --network --key --timeout
                     --cpu --memory --processes --output --file-size --json --quiet -q"

    # The command: the first word that is not an option or an option's value.
    local i cmd="" after_dashdash=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --endpoint|--token|--connect-timeout) ((i++)) ;;
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done

    # Values of options.
    case $prev in
        --status|-s)
            [[ $cmd == ls ]] && { mapfile -t COMPREPLY < <(compgen -W "$statuses" -- "$cur"); return; } ;;
        --lang)
            mapfile -t COMPREPLY < <(compgen -W "sh bash python3" -- "$cur"); return ;;
        --stdin|--file)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
        --output|-o)
            if [[ $cmd == files ]]; then
                mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return
            fi
            return ;;
        --endpoint)
            mapfile -t COMPREPLY < <(compgen -W "tcp://127.0.0.1:5555 ipc://" -- "$cur"); return ;;
        --token|--connect-timeout|--timeout|--cpu|--memory|--processes|--file-size|\
        --key|--collect|--limit|-n|-e|--env)
            return ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$global --version" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        fi
        return
    fi

    # run / submit: once the task's command line started, complete files.
    if [[ $cmd == run || $cmd == submit ]]; then
        for ((i = i + 1; i < cword; i++)); do
            case ${words[i]} in
                --) after_dashdash=1; break ;;
                --lang|--stdin|-e|--env|--file|--collect|--key|--timeout|--cpu|--memory|\
                --processes|--output|--file-size|--endpoint|--token|--connect-timeout)
                    ((i++)) ;;
                -*) ;;
                *) after_dashdash=1; break ;;
            esac
        done
        if ((after_dashdash)); then
            mapfile -t COMPREPLY < <(compgen -c -- "$cur"; compgen -f -- "$cur")
            return
        fi
    fi

    local opts
    case $cmd in
        run)     opts="$task_opts --detach -d" ;;
        submit)  opts="$task_opts" ;;
        get)     opts="--json" ;;
        wait)    opts="--json --timeout" ;;
        logs)    opts="--json --follow -f --quiet -q" ;;
        cancel)  opts="--json --wait" ;;
        rerun)   opts="--json --wait --follow -f --quiet -q" ;;
        ls)      opts="--json --status -s --limit -n" ;;
        workers) opts="--json" ;;
        files)   opts="--json --output -o --force" ;;
        help)    mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur"); return ;;
        *)       return ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts $global" -- "$cur")
    elif [[ $cmd == run || $cmd == submit ]]; then
        mapfile -t COMPREPLY < <(compgen -c -- "$cur"; compgen -f -- "$cur")
    fi
} &&
complete -F _cleudo cleudo
