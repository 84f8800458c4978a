/* lwIP's one NO_SYS requirement: a millisecond clock. */
#include "lwip/sys.h"
#include "sim_loop.h"

u32_t sys_now(void)
{
	return (u32_t)sim_now_ms();
}
