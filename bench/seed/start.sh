#!/bin/sh
# The seed's mail server (../shared/seed/basic-email-system.md, "Install and
# configure postfix" and "... dovecot"), its steps in the seed's order on the
# product's mail image (the same Debian packages), then Postfix and Dovecot in
# the foreground. The rendered files are in /seed; SEED_HOSTNAME and
# SEED_ADDRESS come from the environment. Departures from the seed, each for
# the container or for Debian, are marked "Debian:" or "Container:".
set -eu
seed=/seed

# Postfix: the seed's main.cf whole and its four MySQL maps.
cp "$seed"/postfix/main.cf "$seed"/postfix/mysql-virtual-*.cf /etc/postfix/
# Container: they arrive 0600 (they hold the password); readable by Postfix's
# daemons as the seed's files are, by nobody else.
chmod 0640 /etc/postfix/mysql-virtual-*.cf
chgrp postfix /etc/postfix/mysql-virtual-*.cf
# master.cf: the seed's smtp, submission and smtps in place of the stock smtp
# line. Debian: its stock services run chrooted, Rocky's (the seed's) do not.
postconf -F '*/*/chroot = n'
postconf -MX smtp/inet
cat "$seed"/postfix/master.cf >>/etc/postfix/master.cf
# Container: postlogd writes maillog_file (main.cf's "Log:").
[ -n "$(postconf -M postlog/unix-dgram)" ] || postconf -M 'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd'
# Rocky's postfix package makes this self-signed pair when installed.
mkdir -p /etc/pki/tls/certs /etc/pki/tls/private
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$SEED_HOSTNAME" \
  -keyout /etc/pki/tls/private/postfix.key -out /etc/pki/tls/certs/postfix.pem 2>/dev/null
chmod 0600 /etc/pki/tls/private/postfix.key
newaliases

# Dovecot, file by file as the seed edits them.
d=/etc/dovecot
printf '%s\n' 'protocols = imap pop3 lmtp' "listen = $SEED_ADDRESS" >>"$d/dovecot.conf"
sed -i -e 's|^#*mail_location = .*|mail_location = maildir:/var/mail/vhosts/%d/%n|' \
  -e 's|^#*mail_privileged_group = .*|mail_privileged_group = mail|' "$d/conf.d/10-mail.conf"
groupadd -g 2000 vmail
useradd -g vmail -u 2000 -d /var/mail/ vmail
mkdir -p /var/mail/vhosts
chown -R vmail:vmail /var/mail/
cp "$seed"/dovecot/auth-sql.conf.ext "$d/conf.d/"
cp "$seed"/dovecot/dovecot-sql.conf.ext "$d/"
printf '%s\n' 'disable_plaintext_auth = yes' 'auth_mechanisms = plain login' '!include auth-sql.conf.ext' >>"$d/conf.d/10-auth.conf"
cat "$seed"/dovecot/10-master.conf >>"$d/conf.d/10-master.conf"
# Rocky's dovecot makes a self-signed certificate when first started (mkcert.sh).
if [ ! -s "$d/private/dovecot.pem" ]; then
  mkdir -p "$d/private"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$SEED_HOSTNAME" \
    -keyout "$d/private/dovecot.key" -out "$d/private/dovecot.pem" 2>/dev/null
fi
# Container: to the container's log, as the product does (Rocky's: syslog).
echo 'log_path = /dev/stderr' >>"$d/conf.d/10-logging.conf"
chown -R vmail:dovecot /etc/dovecot
chmod -R 770 /etc/dovecot
rm -rf "$seed"

dovecot -F &
exec postfix start-fg
