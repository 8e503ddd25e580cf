# Rendered by components/render/dovecot.ts; runs before any script of the
# user's (sieve_before). Mail Rspamd scored above the junk threshold carries
# "X-Spam: Yes": it goes to the Junk folder instead of the inbox.
require ["fileinto"];
if header :is "X-Spam" "Yes" {
  fileinto "Junk";
  stop;
}
