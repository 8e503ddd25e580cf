# Rendered by components/render/dovecot.ts (IMAPSieve): a message put into
# Junk by its user teaches Rspamd that it is spam.
require ["vnd.dovecot.pipe", "copy", "imapsieve"];
pipe :copy "rspamd-learn" ["spam"];
