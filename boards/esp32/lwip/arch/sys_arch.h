/*
 * The OS types lwIP needs with NO_SYS 0, for the Xtensa compile check. On
 * ESP-IDF they are FreeRTOS handles (pointers); here they are opaque
 * pointers of the same size, which is all our code's structures see.
 */
#ifndef ESP32_CHECK_ARCH_SYS_ARCH_H
#define ESP32_CHECK_ARCH_SYS_ARCH_H

typedef void *sys_sem_t;
typedef void *sys_mutex_t;
typedef void *sys_mbox_t;
typedef void *sys_thread_t;
typedef int sys_prot_t;

#define sys_mbox_valid(m)          (*(m) != NULL)
#define sys_mbox_set_invalid(m)    (*(m) = NULL)
#define sys_sem_valid(s)           (*(s) != NULL)
#define sys_sem_set_invalid(s)     (*(s) = NULL)
#define sys_mutex_valid(m)         (*(m) != NULL)
#define sys_mutex_set_invalid(m)   (*(m) = NULL)

#endif
