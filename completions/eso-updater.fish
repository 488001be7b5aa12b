# fish completion for eso-updater. Installed as vendor_completions.d/eso-updater.fish.
# Kept in step with `eso-updater --help` by test/cli/help_test.cc, which asks fish itself
# (`complete -C`) what it offers.

set -l commands match trigger serve version completion
set -l providers akeyless aws azurekv gcpsm vault doppler infisical

complete -c eso-updater -f

# Commands.
complete -c eso-updater -n "not __fish_seen_subcommand_from $commands" -a match -d 'List the ExternalSecrets that read a key (read-only)'
complete -c eso-updater -n "not __fish_seen_subcommand_from $commands" -a trigger -d 'Annotate every ExternalSecret that reads a key so ESO re-syncs it'
complete -c eso-updater -n "not __fish_seen_subcommand_from $commands" -a serve -d 'Receive secret-change webhooks and trigger ESO at once'
complete -c eso-updater -n "not __fish_seen_subcommand_from $commands" -a version -d 'Print the version'
complete -c eso-updater -n "not __fish_seen_subcommand_from $commands" -a completion -d 'Print the completion script for bash, zsh or fish'
complete -c eso-updater -n "__fish_seen_subcommand_from completion" -a 'bash zsh fish' -d 'Shell'

# Global options, accepted before and after the command.
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -s h -l help -d 'Print help and exit'
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -l kubeconfig -r -F -d 'Path to the kubeconfig file (only this file is read)'
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -l context -x -a '(kubectl config get-contexts -o name 2>/dev/null)' -d 'The kubeconfig context to use'
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -l cluster -x -a '(kubectl config get-clusters 2>/dev/null | tail -n +2)' -d "The kubeconfig cluster to use instead of the context's"
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -l user -x -a '(kubectl config get-users 2>/dev/null | tail -n +2)' -d "The kubeconfig user to use instead of the context's"
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -s n -l namespace -x -a '(kubectl get namespaces -o name 2>/dev/null | string replace namespace/ "")' -d 'Namespace to search (repeatable, or comma-separated)'
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -s A -l all-namespaces -d 'Search every namespace'
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -s l -l selector -x -d 'Label selector the ExternalSecrets must match'
complete -c eso-updater -n "not __fish_seen_subcommand_from version" -l chunk-size -x -d 'Objects per LIST page; 0 reads everything at once'

# match and trigger: keys and store scoping.
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -s k -l key -x -d 'Remote key (repeatable)'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l event -r -F -d 'Read keys from a notification payload (- for stdin)'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l event-source -x -a 'generic cloudevents azure aws gcp doppler infisical akeyless' -d 'Format of --event'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l key-path -x -d 'Dotted path to the key in other JSON (repeatable)'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l store -x -d 'Only references to the store of this name'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l store-kind -x -a 'SecretStore ClusterSecretStore' -d 'With --store: the store kind'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l provider -x -a "$providers" -d 'Only references to stores of this provider'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -s o -l output -x -a 'table json name' -d 'Output format'

# trigger.
complete -c eso-updater -n '__fish_seen_subcommand_from trigger' -l dry-run -d 'Show what would be patched; change nothing'
complete -c eso-updater -n '__fish_seen_subcommand_from trigger' -l require-match -d 'Exit 1 when no object matches'
complete -c eso-updater -n '__fish_seen_subcommand_from trigger' -l wait -d 'Wait until ESO has synced every patched object'
complete -c eso-updater -n '__fish_seen_subcommand_from trigger' -l timeout -x -d 'How long --wait waits (Go duration)'
complete -c eso-updater -n '__fish_seen_subcommand_from trigger' -l repeat-after -x -d 'Patch again after this delay (Go duration)'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l server -x -d 'Through serve\'s trigger API at this URL'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l token-file -r -F -d 'File with the trigger token for --server'
complete -c eso-updater -n '__fish_seen_subcommand_from match trigger' -l server-ca -r -F -d 'PEM CAs that signed --server\'s certificate'

# trigger and serve: what gets patched.
complete -c eso-updater -n '__fish_seen_subcommand_from trigger serve' -l annotation -x -d 'Annotation key to set (default force-sync)'
complete -c eso-updater -n '__fish_seen_subcommand_from trigger serve' -l force -d 'Also patch objects ESO will not refresh'
complete -c eso-updater -n '__fish_seen_subcommand_from trigger serve' -l include-possible -d 'Also patch objects that only find.tags may select'
complete -c eso-updater -n '__fish_seen_subcommand_from trigger serve' -l patch-children -d 'ESO < v0.20: reach ClusterExternalSecret children via spec.externalSecretMetadata'
complete -c eso-updater -n '__fish_seen_subcommand_from trigger serve' -l concurrency -x -d 'Patches in flight at once (1-256)'

# serve.
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l listen -x -d 'HOST:PORT to listen on (repeatable)'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l port-file -r -F -d 'Write the bound port to this file'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l credentials-dir -x -a '(__fish_complete_directories)' -d 'Directory with username/password/token files'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l insecure-no-auth -d 'Accept webhooks without credentials'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l metrics-auth -d 'Require credentials on /metrics too'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l no-index -d 'LIST ExternalSecrets per event instead of watching'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l workers -x -d 'Worker threads'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l stores -d 'Read SecretStores and ClusterSecretStores'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l provider -x -a 'akeyless aws azurekv gcpsm vault doppler infisical' -d 'Only entries whose store has this provider'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l stores-refresh -x -d 'How often --stores re-lists them'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l watch-timeout -x -d 'A silent watch is presumed dead after this long'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l max-connections -x -d 'Open connections at most'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l queue -x -d 'Connections waiting for a worker before 503'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l max-body -x -d 'Largest request body in bytes'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l phase-timeout -x -d 'Deadline for each of head, body, write'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l drain-timeout -x -d 'How long SIGTERM lets requests finish'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l event-type -x -a 'static-secret-updated rotated-secret-success' -d 'Event type to act on (repeatable)'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l key-path -x -d 'Dotted path to the key in other JSON (repeatable)'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l cloudevents-key-path -x -d 'Path to the key in a CloudEvent data'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l api-key-header -x -d 'Header carrying WEBHOOK_API_KEY'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l tls-cert -r -F -d 'Serve HTTPS with this PEM certificate chain'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l tls-key -r -F -d 'PEM key of --tls-cert'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l tls-client-ca -r -F -d 'CAs whose client certificates authenticate webhooks'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l api-key-query -x -d 'Query parameter carrying WEBHOOK_API_KEY'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l signature-tolerance -x -d 'Signed webhook timestamp window'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l route-store -x -d 'SOURCE=STORE scope of /webhook/SOURCE'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l route-provider -x -d 'SOURCE=PROVIDER scope of /webhook/SOURCE'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l log-format -x -a 'text json' -d 'Log format'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l pubsub-audience -x -d 'Audience of the Google OIDC token /webhook/gcp accepts'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l pubsub-service-account -x -d 'Push subscription service account (repeatable)'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l pubsub-keys-url -x -d 'Where the token signing keys are fetched'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l verify-ca-file -r -F -d 'PEM CAs for fetching keys and SNS certificates'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l sns-topic-arn -x -d 'SNS topic whose messages /webhook/sns accepts'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l sns-host-pattern -x -d 'For tests: hosts SNS certificates may come from'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l redelivery-window -x -d 'How long a processed delivery is remembered'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l trigger-namespaces -x -d 'Namespaces POST /v1/trigger may reach'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l trigger-max-wait -x -d 'Longest wait a trigger request may ask for'
complete -c eso-updater -n '__fish_seen_subcommand_from serve' -l trigger-max-waiting -x -d 'Trigger requests waiting for ESO at once'
