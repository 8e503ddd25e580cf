# Rendered by components/render/dovecot.ts (IMAPSieve): a message moved out
# of Junk teaches Rspamd that it is not spam, unless it went to the Trash.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];
if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}
if string "${mailbox}" "Trash" {
  stop;
}
pipe :copy "rspamd-learn" ["ham"];
