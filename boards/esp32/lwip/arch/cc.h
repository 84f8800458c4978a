/*
 * lwIP architecture glue for the Xtensa compile check: 32-bit, little
 * endian, picolibc's headers (ESP-IDF v6.0's default C library; the firmware
 * selects newlib, whose types our code sees the same way). Nothing here runs on a board (ESP-IDF has its
 * own port/esp32xx/include/arch/cc.h); it only has to describe the same
 * machine so that structure layouts and types come out as they do there.
 */
#ifndef ESP32_CHECK_ARCH_CC_H
#define ESP32_CHECK_ARCH_CC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/time.h>

/* picolibc defines it outside strict ISO modes (-std=gnu2x); both say little endian. */
#ifndef BYTE_ORDER
#define BYTE_ORDER LITTLE_ENDIAN
#endif
#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1

#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { printf("lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); abort(); } while (0)

#define LWIP_RAND() ((u32_t)rand())

#endif
