# bash completion for eso-updater                                        -*- shell-script -*-
# Kept in step with `eso-updater --help` by test/cli/help_test.cc.

_eso_updater() {
  local cur prev words cword
  _init_completion || return

  local global_opts="--kubeconfig --context --cluster --user -n --namespace -A --all-namespaces -l --selector --chunk-size -h --help"
  local commands="match trigger serve version completion"
  local match_opts="-k --key --event --event-source --key-path --store --store-kind --provider -o --output --server --token-file --server-ca -h --help"
  local trigger_opts="-k --key --event --event-source --key-path --annotation --dry-run --force --include-possible --patch-children --require-match --concurrency --wait --timeout --repeat-after --store --store-kind --provider -o --output --server --token-file --server-ca -h --help"

  local serve_opts="--listen --port-file --credentials-dir --insecure-no-auth --metrics-auth --no-index --stores --provider --stores-refresh --watch-timeout --workers --max-connections --queue --max-body --phase-timeout --drain-timeout --annotation --force --include-possible --patch-children --concurrency --event-type --key-path --cloudevents-key-path --tls-cert --tls-key --tls-client-ca --api-key-header --api-key-query --signature-tolerance --route-store --route-provider --log-format --pubsub-audience --pubsub-service-account --pubsub-keys-url --verify-ca-file --sns-topic-arn --sns-host-pattern --redelivery-window --trigger-namespaces --trigger-max-wait --trigger-max-waiting -h --help"

  case $prev in
    --kubeconfig | --event) _filedir; return ;;
    -o | --output) COMPREPLY=($(compgen -W "table json name" -- "$cur")); return ;;
    --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
    --port-file | --credentials-dir | --tls-cert | --tls-key | --tls-client-ca | --token-file | --server-ca | --verify-ca-file) _filedir; return ;;
    --stores-refresh | --watch-timeout | --listen | --workers | --max-connections | --queue | --max-body | --phase-timeout | --drain-timeout | --event-type | --key-path | --cloudevents-key-path | --api-key-header | --api-key-query | --signature-tolerance | --route-store | --route-provider | --server | --pubsub-audience | --pubsub-service-account | --pubsub-keys-url | --sns-topic-arn | --sns-host-pattern | --redelivery-window | --trigger-namespaces | --trigger-max-wait | --trigger-max-waiting) return ;;
    --store-kind) COMPREPLY=($(compgen -W "SecretStore ClusterSecretStore" -- "$cur")); return ;;
    --provider) COMPREPLY=($(compgen -W "akeyless aws azurekv gcpsm vault doppler infisical" -- "$cur")); return ;;
    --context)
      COMPREPLY=($(compgen -W "$(kubectl config get-contexts -o name 2>/dev/null)" -- "$cur"))
      return ;;
    --cluster)
      COMPREPLY=($(compgen -W "$(kubectl config get-clusters 2>/dev/null | tail -n +2)" -- "$cur"))
      return ;;
    --user)
      COMPREPLY=($(compgen -W "$(kubectl config get-users 2>/dev/null | tail -n +2)" -- "$cur"))
      return ;;
    -n | --namespace)
      COMPREPLY=($(compgen -W "$(kubectl get namespaces -o name 2>/dev/null | sed 's|^namespace/||')" -- "$cur"))
      return ;;
    -k | --key | -l | --selector | --chunk-size | --annotation | --concurrency | --timeout | --repeat-after | --store) return ;;
    --event-source) COMPREPLY=($(compgen -W "generic cloudevents azure aws gcp doppler infisical akeyless" -- "$cur")); return ;;
  esac

  local command="" w
  for w in "${words[@]:1:cword-1}"; do
    case $w in match | trigger | serve | version | completion) command=$w; break ;; esac
  done
  case $command in
    match) COMPREPLY=($(compgen -W "$match_opts $global_opts" -- "$cur")) ;;
    trigger) COMPREPLY=($(compgen -W "$trigger_opts $global_opts" -- "$cur")) ;;
    serve) COMPREPLY=($(compgen -W "$serve_opts $global_opts" -- "$cur")) ;;
    version) COMPREPLY=() ;;
    completion) COMPREPLY=($(compgen -W "bash zsh fish -h --help" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -W "$commands $global_opts" -- "$cur")) ;;
  esac
}
complete -F _eso_updater eso-updater
