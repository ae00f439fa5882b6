/* The misbehaving tenant of the budget tests, one static binary:
 *   hog mem        allocate and touch memory 1 MiB at a time, forever
 *   hog hold N     allocate and touch N MiB, then sleep
 *   hog cpu        spin on one core, forever
 *   hog fork       fork sleeping children until fork fails, then report
 *                  the count on stdout and sleep
 *   hog notify MSG send MSG to $NOTIFY_SOCKET (sd_notify), once
 *   hog notify-flood N  send N datagrams as fast as it can; prints how
 *                  many the socket took
 * (busybox has no datagram sender for a Unix socket.)
 * Built with gcc -static: the blueprint has no libc. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void touch(size_t mib)
{
	for (size_t i = 0; i < mib; i++) {
		char *p = malloc(1 << 20);

		if (!p) {
			printf("hog: malloc failed after %zu MiB\n", i);
			fflush(stdout);
			pause();
		}
		memset(p, 0x5a, 1 << 20);
		if (i % 16 == 0) {
			printf("hog: %zu MiB\n", i);
			fflush(stdout);
		}
	}
}

static void forkbomb(void)
{
	unsigned long n = 0;

	for (;;) {
		pid_t pid = fork();

		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			printf("hog: fork failed after %lu children: %s\n", n, strerror(errno));
			fflush(stdout);
			for (;;)
				pause();
		}
		n++;
	}
}

static int notify(const char *msg, long count)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv("NOTIFY_SOCKET");
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	long sent = 0;

	if (!path || fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "hog: no NOTIFY_SOCKET\n");
		return 1;
	}
	strcpy(sa.sun_path, path);
	for (long i = 0; i < count; i++)
		if (sendto(fd, msg, strlen(msg), count > 1 ? MSG_DONTWAIT : 0,
			   (struct sockaddr *)&sa, sizeof(sa)) >= 0)
			sent++;
		else if (count == 1)
			perror("hog: sendto");
	printf("hog: sent %ld of %ld\n", sent, count);
	return count == 1 && sent != 1;
}

int main(int argc, char **argv)
{
	volatile unsigned long spin = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "mem") == 0)
		touch((size_t)-1);
	if (argc >= 3 && strcmp(argv[1], "hold") == 0) {
		touch((size_t)atol(argv[2]));
		printf("hog: holding %s MiB\n", argv[2]);
		for (;;)
			pause();
	}
	if (argc >= 2 && strcmp(argv[1], "cpu") == 0)
		for (;;)
			spin++;
	if (argc >= 2 && strcmp(argv[1], "fork") == 0)
		forkbomb();
	if (argc >= 3 && strcmp(argv[1], "notify") == 0)
		return notify(argv[2], 1);
	if (argc >= 3 && strcmp(argv[1], "notify-flood") == 0)
		return notify("BUSY=1", atol(argv[2]));
	fprintf(stderr, "usage: hog mem | hold MIB | cpu | fork | notify MSG | notify-flood N\n");
	return 2;
}
