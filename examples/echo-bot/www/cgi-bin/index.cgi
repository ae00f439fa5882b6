#!/bin/sh
# echo-bot request handler: busybox httpd runs this CGI for every URL that
# ends in "/" (it is the fallback for a directory without index.html).
#
# Answers text/plain:
#   hostname: <container hostname>
#   requests: <N>            counter in /data/requests, +1 per request
#   <VAR>: <value>           VAR = $BOT_SHOW_ENV (default GREETING)
#   secret <NAME>: present|absent   NAME = $BOT_SECRET (default api_key)
# and logs one line per request to stderr (httpd hands the CGI its own
# stderr, which ptenant captures as the tenant log).

# Read the variable to show before touching PATH, so BOT_SHOW_ENV=PATH
# shows the tenant's value.
show=${BOT_SHOW_ENV:-GREETING}
case $show in
[A-Za-z_]*) case $show in *[!A-Za-z0-9_]*) show_ok=0 ;; *) show_ok=1 ;; esac ;;
*) show_ok=0 ;;
esac
if [ "$show_ok" = 1 ]; then
	# $show is a valid shell name (checked above): the eval is safe.
	show_set='' show_val=''
	eval "show_set=\${$show+set} show_val=\${$show-}"
	if [ "$show_set" = set ]; then
		case $show_val in
		*"
"* | *"$(printf '\r')"*)
			# Keep the answer one line per field.
			show_val=$(printf '%s' "$show_val" | tr '\r\n' '  ')
			;;
		esac
	else
		show_val='(unset)'
	fi
else
	show_val='(invalid variable name)'
fi

PATH=/usr/sbin:/usr/bin:/sbin:/bin

DATA=/data
COUNTER=$DATA/requests
# The lock is a directory, as mkdir is atomic: Debian's busybox-static has
# no flock applet, and the rootfs has nothing but busybox.
LOCK=$DATA/.lock.d
LOCK_TRIES=1000     # x 10 ms = give up after ~10 s
LOCK_CHECK_EVERY=50 # look for a dead holder every ~0.5 s

# Expected failures are silenced with 2>&- (stderr closed), not 2>/dev/null:
# the rootfs ships no device nodes, and in a container without a /dev the
# redirection itself would fail and take the command down with it.

log() {
	printf 'echo-bot: %s %s %s %s\n' "${REMOTE_ADDR:--}" \
		"${REQUEST_METHOD:--}" "${REQUEST_URI:--}" "$*" >&2
}

# A holder killed between mkdir and rmdir (OOM killer, SIGKILL) would
# block every later request, so a waiter breaks a lock whose holder is
# gone. Breaking is itself serialised by $LOCK.break: while a breaker
# holds it, the lock can change hands only by its holder releasing it,
# and a dead holder cannot, so removing the lock of a holder seen dead
# never removes a live one. /bot/start clears both at startup.
lock_break_stale() {
	if ! mkdir "$LOCK.break" 2>&-; then
		# A breaker killed mid-way leaves this behind; it only ever
		# lives for a few ms, so an old one is stale.
		bt=$(stat -c %Y "$LOCK.break" 2>&-) || return 0
		[ $(($(date +%s) - bt)) -gt 30 ] && rmdir "$LOCK.break" 2>&-
		return 0
	fi
	owner=
	[ -f "$LOCK/owner" ] && read -r owner <"$LOCK/owner"
	stale=0
	case $owner in
	'' | *[!0-9]*)
		# Between mkdir and writing owner, or the holder died there.
		lt=$(stat -c %Y "$LOCK" 2>&-) &&
			[ $(($(date +%s) - lt)) -gt 5 ] && stale=1
		;;
	*)
		kill -0 "$owner" 2>&- || stale=1
		;;
	esac
	if [ "$stale" = 1 ]; then
		rm -f "$LOCK/owner"
		rmdir "$LOCK" 2>&- && log "broke stale lock (holder ${owner:-unknown})"
	fi
	rmdir "$LOCK.break"
	return 0
}

lock_acquire() {
	i=0 gone=0
	until mkdir "$LOCK" 2>&-; do
		# mkdir failing while no lock exists means it cannot work at all
		# (read-only or full /data...): give up at once rather than spin.
		# Once can be a release racing the check; three times in a row
		# is not. (busybox test -w is always true for root: no use here.)
		if [ -d "$LOCK" ]; then
			gone=0
		else
			gone=$((gone + 1))
			[ "$gone" -ge 3 ] && return 1
			continue
		fi
		i=$((i + 1))
		[ "$i" -ge "$LOCK_TRIES" ] && return 1
		[ $((i % LOCK_CHECK_EVERY)) -eq 0 ] && lock_break_stale
		usleep 10000
	done
	echo "$$" >"$LOCK/owner"
}

lock_release() {
	rm -f "$LOCK/owner"
	rmdir "$LOCK"
}

# Increments the counter under the lock; sets $count. The new value is
# written to a temp file and renamed over the old one, so a handler killed
# half-way leaves the old value, never a torn file.
count_request() {
	lock_acquire || return 1
	n=
	if [ -e "$COUNTER" ]; then
		# Unreadable is an error, not a reason to start again from 0.
		if [ ! -f "$COUNTER" ] || [ ! -r "$COUNTER" ]; then
			lock_release
			return 1
		fi
		read -r n <"$COUNTER" || : # (non-zero without a final newline)
	fi
	n=${n#"${n%%[!0]*}"} # strip leading zeros (else ash reads octal)
	case $n in
	'' | *[!0-9]*)
		[ -n "$n" ] && log "warning: $COUNTER held '$n', restarting from 0"
		n=0
		;;
	esac
	count=$((n + 1))
	if ! { printf '%s\n' "$count" >"$COUNTER.tmp.$$" &&
		mv -f "$COUNTER.tmp.$$" "$COUNTER"; }; then
		rm -f "$COUNTER.tmp.$$"
		lock_release
		return 1
	fi
	lock_release
}

if ! count_request; then
	log "500 cannot update $COUNTER"
	printf 'Status: 500 Internal Server Error\r\n'
	printf 'Content-Type: text/plain\r\n\r\n'
	printf 'error: cannot update the request counter in %s\n' "$DATA"
	exit 0
fi

secret=${BOT_SECRET:-api_key}
case $secret in
# ptenant's secret-name grammar; it also keeps the path inside /run/secrets.
'' | .* | *[!A-Za-z0-9._-]*) secret_state=absent ;;
*)
	if [ -f "/run/secrets/$secret" ] && [ -r "/run/secrets/$secret" ]; then
		secret_state=present
	else
		secret_state=absent
	fi
	;;
esac

host=$(hostname)

printf 'Content-Type: text/plain\r\n'
printf 'Cache-Control: no-store\r\n\r\n'
printf 'hostname: %s\n' "$host"
printf 'requests: %s\n' "$count"
printf '%s: %s\n' "$show" "$show_val"
printf 'secret %s: %s\n' "$secret" "$secret_state"

log "200 requests=$count"
