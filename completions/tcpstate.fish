# fish completion for tcpstate: candidates come from `tcpstate __complete`,
# which reads the binary's own command table.
function __tcpstate_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l bin $words[1]
    set -e words[1]
    set -l cands ($bin __complete $words 2>/dev/null)
    if contains -- @file $cands
        __fish_complete_path (commandline -ct)
    else
        printf '%s\n' $cands
    end
end
complete -c tcpstate -f -a '(__tcpstate_complete)'
