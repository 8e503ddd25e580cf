#!/bin/sh
# The mail server's own account and directories: vmail (uid/gid 2000) owns
# every mailbox under /var/mail/vhosts; OpenDKIM's socket directory. Run by the image build and, on hosts,
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
  # OpenDKIM's socket: only Postfix may reach it (any process that could
  # would get mail signed with the domains' keys). The directory decides:
  # opendkim:postfix 0750, so only OpenDKIM and the postfix group may enter,
  # and the socket in it is open to all (UMask 000). Neither a group
  # membership (Postfix's daemons drop supplementary groups) nor a setgid
  # directory (a container without CAP_FSETID cannot set the bit) would do.
  install -d -o opendkim -g postfix -m 0750 /var/spool/postfix/opendkim
  ;;
delete)
  if grep -qx user "$record" 2>/dev/null; then userdel vmail; fi
  if grep -qx group "$record" 2>/dev/null && getent group vmail >/dev/null; then groupdel vmail; fi
  rm -f "$record"
  rm -f /var/spool/postfix/opendkim/opendkim.sock
  rmdir /var/spool/postfix/opendkim 2>/dev/null || true
  ;;
*) echo "usage: accounts.sh create|delete" >&2; exit 2 ;;
esac
