/* lwIP architecture glue for the host simulator (Linux, gcc or clang). */
#ifndef SIM_ARCH_CC_H
#define SIM_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/time.h>

#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1

#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { \
	fprintf(stderr, "lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); \
	fflush(NULL); abort(); } while (0)

#define LWIP_RAND() ((u32_t)random())

#endif
