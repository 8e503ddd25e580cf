#!/bin/sh
# The mail server's own account and directory: vmail (uid/gid 2000) owns
# every mailbox under /var/mail/vhosts. Run by the image build and, on hosts,
# by the program after the packages (`create`); `delete` removes the account
# if this script created it. Mail under /var/mail/vhosts stays (the stack's
# purgeMailOnDestroy decides about it). Idempotent.
set -eu
record=/var/lib/mail-system/mail.accounts
case "${1:-create}" in
create)
  mkdir -p /var/lib/mail-system
  if ! getent group vmail >/dev/null; then
    groupadd -g 2000 vmail
    echo group >>"$record"
  fi
  if ! getent passwd vmail >/dev/null; then
    useradd -u 2000 -g vmail -d /var/mail -s /usr/sbin/nologin -M vmail
    echo user >>"$record"
  fi
  [ "$(id -u vmail)" = 2000 ] && [ "$(id -g vmail)" = 2000 ] || {
    echo "accounts: vmail exists with another uid/gid than 2000:2000 (Dovecot's mail_uid/mail_gid)" >&2
    exit 1
  }
  install -d -m 0755 /var/mail
  install -d -o vmail -g vmail -m 0770 /var/mail/vhosts
  ;;
delete)
  if grep -qx user "$record" 2>/dev/null; then userdel vmail; fi
  if grep -qx group "$record" 2>/dev/null && getent group vmail >/dev/null; then groupdel vmail; fi
  rm -f "$record"
  ;;
*) echo "usage: accounts.sh create|delete" >&2; exit 2 ;;
esac
