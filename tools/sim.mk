# Builds the router simulator. tools/build-sim.mjs writes $(BUILD)/sources.mk
# (the manifest's native C files for the sim platform) and calls this file.
#   make -f tools/sim.mk BUILD=build/sim [LWIP_DIR=...] [SANITIZE=1] [ARCH=-m32]

BUILD ?= build/sim
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
XS_DIR ?= $(TOP)/third_party/xsnap/moddable/xs
LWIP_DIR ?= $(TOP)/third_party/lwip
LWIPDIR := $(LWIP_DIR)/src
CC ?= cc

include $(BUILD)/sources.mk
include $(LWIPDIR)/Filelists.mk

XS_SOURCES := $(wildcard $(XS_DIR)/sources/*.c)
LWIP_SOURCES := $(COREFILES) $(CORE4FILES) $(LWIPDIR)/netif/ethernet.c

SIM_DIR := $(TOP)/boards/sim
INCLUDES := -I$(SIM_DIR) -I$(SIM_DIR)/xs -I$(SIM_DIR)/lwip \
	-I$(XS_DIR)/includes -I$(XS_DIR)/platforms -I$(XS_DIR)/sources \
	-I$(LWIPDIR)/include -I$(TOP)/modules/net -I$(TOP)/modules/lwip-hooks $(MODULE_INCLUDES)
XS_DEFINES := -DINCLUDE_XSPLATFORM -DXSPLATFORM=\"sim_xs.h\" -DmxParse=1 -DmxRun=1 -DmxNoConsole=1

OPT ?= -O2 -g
# A 32-bit build, as the ESP32 is 32-bit: pointers, size_t and long are 4
# bytes, so XS slots (16 bytes), chunk headers, lwIP's and our structs, and
# every heap figure the simulator prints are the board's. ARCH= builds for
# the host's own width (64-bit), to compare.
ARCH ?= -m32
# Sanitizers cover our C and lwIP. XS's interpreter reads its byte code with
# unaligned loads on hosts that allow them, so it is left uninstrumented.
ifeq ($(SANITIZE),1)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
LDFLAGS += $(ARCH)

# Third-party code is built as it is, without our warning policy.
XS_CFLAGS := $(OPT) $(ARCH) -w -fno-common $(XS_DEFINES) $(INCLUDES)
LWIP_CFLAGS := $(OPT) $(ARCH) $(SAN) -w $(INCLUDES)
# Ours: C11, every warning an error.
OUR_CFLAGS := $(OPT) $(ARCH) $(SAN) -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Wno-missing-field-initializers $(XS_DEFINES) $(INCLUDES)

OBJ := $(BUILD)/obj
XS_OBJECTS := $(patsubst $(XS_DIR)/sources/%.c,$(OBJ)/xs/%.o,$(XS_SOURCES))
LWIP_OBJECTS := $(patsubst $(LWIPDIR)/%.c,$(OBJ)/lwip/%.o,$(LWIP_SOURCES))
OUR_SOURCES := $(NATIVE_SOURCES) $(BUILD)/native_table.c
OUR_OBJECTS := $(patsubst $(TOP)/%.c,$(OBJ)/own/%.o,$(filter $(TOP)/%,$(abspath $(OUR_SOURCES))))

# Objects built with other flags (the other width, sanitizers on or off) are
# not reused: the stamp is rewritten when the flags change, and every object
# depends on it.
FLAGS_ID := $(strip $(ARCH) SANITIZE=$(SANITIZE) $(OPT))
FLAGS_STAMP := $(OBJ)/flags
ifneq ($(strip $(shell cat $(FLAGS_STAMP) 2>/dev/null)),$(FLAGS_ID))
$(shell mkdir -p $(OBJ) && echo '$(FLAGS_ID)' > $(FLAGS_STAMP))
endif

all: $(BUILD)/router-sim

$(BUILD)/router-sim: $(XS_OBJECTS) $(LWIP_OBJECTS) $(OUR_OBJECTS)
	@echo "ld  $(notdir $@)"
	@$(CC) $(LDFLAGS) -o $@ $^ -lm

$(OBJ)/xs/%.o: $(XS_DIR)/sources/%.c $(SIM_DIR)/xs/sim_xs.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "cc  $(notdir $<)"
	@$(CC) $(XS_CFLAGS) -c $< -o $@

$(OBJ)/lwip/%.o: $(LWIPDIR)/%.c $(SIM_DIR)/lwip/lwipopts.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "cc  $(notdir $<)"
	@$(CC) $(LWIP_CFLAGS) -c $< -o $@

$(OBJ)/own/%.o: $(TOP)/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "cc  $(patsubst $(TOP)/%,%,$<)"
	@$(CC) $(OUR_CFLAGS) -MMD -MP -c $< -o $@

-include $(OUR_OBJECTS:.o=.d)

.PHONY: all
