# Builds the NAPT benchmark (host-tests/bench/napt_bench.c) with the NAPT
# core, its lwIP glue and lwIP itself (the sim's lwipopts.h), optimised as
# the simulator is (-O2 -g), without sanitizers. Unlike the simulator it is
# built for the host's own width (x86-64, not -m32): docs/bench/napt.md's
# instruction counts, and esp-lwip's beside them, are x86-64 figures, and
# stay comparable across reruns. run.sh calls it:
#   make -f host-tests/bench/napt_bench.mk BUILD=build/bench
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
BUILD ?= $(TOP)/build/bench
LWIP_DIR ?= $(TOP)/third_party/lwip
LWIPDIR := $(LWIP_DIR)/src
CC ?= cc

include $(LWIPDIR)/Filelists.mk
LWIP_SOURCES := $(COREFILES) $(CORE4FILES) $(LWIPDIR)/netif/ethernet.c
OUR_SOURCES := $(TOP)/modules/napt/napt_table.c $(TOP)/modules/napt/napt_translate.c \
	$(TOP)/modules/napt/napt_lwip.c $(TOP)/modules/napt/napt_fastpath.c $(TOP)/modules/lwip-hooks/router_hooks.c $(TOP)/modules/lwip-hooks/router_ethernet.c \
	$(TOP)/host-tests/bench/napt_bench.c $(TOP)/host-tests/lib/rig_ports.c

INCLUDES := -I$(TOP)/boards/sim/lwip -I$(LWIPDIR)/include -I$(TOP)/modules/lwip-hooks \
	-I$(TOP)/modules/net -I$(TOP)/modules/napt -I$(TOP)/host-tests/lib
OPT ?= -O2 -g
LWIP_CFLAGS := $(OPT) -w $(INCLUDES)
OUR_CFLAGS := $(OPT) -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Wno-missing-field-initializers $(INCLUDES)

OBJ := $(BUILD)/obj
LWIP_OBJECTS := $(patsubst $(LWIPDIR)/%.c,$(OBJ)/lwip/%.o,$(LWIP_SOURCES))
OUR_OBJECTS := $(patsubst $(TOP)/%.c,$(OBJ)/own/%.o,$(OUR_SOURCES))

all: $(BUILD)/napt_bench

$(BUILD)/napt_bench: $(LWIP_OBJECTS) $(OUR_OBJECTS)
	@$(CC) -o $@ $^

$(OBJ)/lwip/%.o: $(LWIPDIR)/%.c $(TOP)/boards/sim/lwip/lwipopts.h
	@mkdir -p $(dir $@)
	@$(CC) $(LWIP_CFLAGS) -c $< -o $@

$(OBJ)/own/%.o: $(TOP)/%.c
	@mkdir -p $(dir $@)
	@$(CC) $(OUR_CFLAGS) -MMD -MP -c $< -o $@

-include $(OUR_OBJECTS:.o=.d)

.PHONY: all
