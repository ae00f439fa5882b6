/* The misbehaving tenant of the budget tests, one static binary:
 *   hog mem        allocate and touch memory 1 MiB at a time, forever
 *   hog hold N     allocate and touch N MiB, then sleep
 *   hog cpu        spin on one core, forever
 *   hog fork       fork sleeping children until fork fails, then report
 *                  the count on stdout and sleep
 * Built with gcc -static: the blueprint has no libc. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	fprintf(stderr, "usage: hog mem | hold MIB | cpu | fork\n");
	return 2;
}
