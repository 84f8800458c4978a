/*
 * The ESP32's Ethernet ports (see esp32_ports.h), on ESP-IDF v6.0: the EMAC
 * through ESP-IDF's own esp_eth driver, the LAN87xx / IP101 PHYs and the
 * W5500 through Espressif's esp-eth-drivers components (espressif/lan87xx,
 * espressif/ip101, espressif/w5500, which ESP-IDF v6.0 no longer carries;
 * idf_component.yml beside this file and manifest.json's esp32
 * "dependency" list name them). The pins come from the board's manifest
 * (boards/<board>/manifest.json, "defines" -> mc.defines.h MODDEF_BOARD_*).
 *
 * Threads: esp_eth's receive tasks call port_input(), which copies the
 * frame into a pbuf and hands it to lwIP with tcpip_inpkt(): in the tcpip
 * thread, router_ethernet_input() runs the router's IPv4 hook (NAPT) and
 * lwIP's own input (ESP-IDF's prebuilt lwIP calls no hook of ours).
 * Transmit runs in the tcpip thread. Link changes arrive on the default
 * event loop and are applied in the tcpip thread; the net module's netif
 * callbacks then post them to JavaScript, exactly as the simulator's TAP
 * ports do.
 */
#include "esp32_ports.h"
#include "ports.h"
#include "router_ethernet.h"
#include "mc.defines.h"

#include "esp_idf_version.h"
#include "esp_eth_driver.h"
#include "esp_eth_mac_esp.h"
#include "esp_eth_phy.h"
#include "esp_eth_phy_ip101.h"
#include "esp_eth_phy_lan87xx.h"
#include "esp_eth_mac_w5500.h"
#include "esp_eth_phy_w5500.h"
#include "esp_event.h"
#include "esp_mac.h"
#include "esp_netif.h"
#include "driver/gpio.h"
#include "driver/spi_master.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs.h"

#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcpip.h"

#include <stdbool.h>   /* board defines such as MODDEF_BOARD_WAN_ON_W5500 are (true) / (false) */
#include <stdlib.h>
#include <string.h>

#if ESP_IDF_VERSION < ESP_IDF_VERSION_VAL(6, 0, 0)
#error "natbridge's ESP32 ports need ESP-IDF v6.0 or later (docs/esp32.md)"
#endif

#define PORT_FRAME_MAX 1518

struct esp32_port {
	esp_eth_handle_t eth;
	struct netif netif;
	int attached;                 /* netif added */
	volatile int link;            /* last link state the driver reported */
	const char *label;
	struct router_port_counters counters;
	uint8_t tx[PORT_FRAME_MAX];   /* a chained pbuf is flattened here (tcpip thread only) */
};

static struct esp32_port gHw[ESP32_PORT_HW_COUNT];
static struct esp32_port *gRole[ROUTER_PORT_COUNT];
static esp_event_handler_instance_t gEthEvents;
static int gStarted;
static int gResult;
static const char *gError;

static void fail(const char *why)
{
	if (!gError)
		gError = why;
}

const char *esp32_ports_error(void)
{
	return gError;
}

enum esp32_port_hw esp32_ports_wan_hw(void)
{
	enum esp32_port_hw hw = MODDEF_BOARD_WAN_ON_W5500 ? ESP32_PORT_W5500 : ESP32_PORT_EMAC;
	nvs_handle_t nvs;
	char value[8];
	size_t length = sizeof(value);
	if (nvs_open("board", NVS_READONLY, &nvs) != ESP_OK)
		return hw;
	if (nvs_get_str(nvs, "wan", value, &length) == ESP_OK) {
		if (!strcmp(value, "emac"))
			hw = ESP32_PORT_EMAC;
		else if (!strcmp(value, "w5500"))
			hw = ESP32_PORT_W5500;
	}
	nvs_close(nvs);
	return hw;
}

int esp32_ports_set_wan_hw(enum esp32_port_hw hw)
{
	nvs_handle_t nvs;
	esp_err_t err;
	if (hw >= ESP32_PORT_HW_COUNT || nvs_open("board", NVS_READWRITE, &nvs) != ESP_OK)
		return -1;
	err = nvs_set_str(nvs, "wan", hw == ESP32_PORT_W5500 ? "w5500" : "emac");
	if (err == ESP_OK)
		err = nvs_commit(nvs);
	nvs_close(nvs);
	return err == ESP_OK ? 0 : -1;
}

/* --- data path --------------------------------------------------------- */

/*
 * From esp_eth's receive task. The driver allocated `buffer` for us and
 * leaves freeing it to us. One copy into a pbuf keeps the driver's buffer
 * lifetime out of lwIP (a custom pbuf would hold it until lwIP is done).
 */
static esp_err_t port_input(esp_eth_handle_t eth, uint8_t *buffer, uint32_t length, void *priv)
{
	struct esp32_port *port = priv;
	struct pbuf *p;
	(void)eth;
	port->counters.rx_frames++;
	port->counters.rx_bytes += length;
	if (!port->attached || length > PORT_FRAME_MAX || !(p = pbuf_alloc(PBUF_RAW, (u16_t)length, PBUF_POOL))) {
		port->counters.rx_dropped++;
		free(buffer);
		return ESP_OK;
	}
	pbuf_take(p, buffer, (u16_t)length);
	free(buffer);
	/* netif->input is port_netif_input: queued for the tcpip thread. */
	if (port->netif.input(p, &port->netif) != ERR_OK) {
		port->counters.rx_dropped++;
		pbuf_free(p);
	}
	return ESP_OK;
}

/*
 * The netif's input function (also what lwIP's loopback would use): the
 * frame goes to router_ethernet_input() in the tcpip thread, or under the
 * core lock with CONFIG_LWIP_TCPIP_CORE_LOCKING_INPUT.
 */
static err_t port_netif_input(struct pbuf *p, struct netif *inp)
{
	return tcpip_inpkt(p, inp, router_ethernet_input);
}

/* From the tcpip thread. */
static err_t port_linkoutput(struct netif *netif, struct pbuf *p)
{
	struct esp32_port *port = netif->state;
	void *frame = p->payload;
	if (p->tot_len > PORT_FRAME_MAX) {
		port->counters.tx_errors++;
		return ERR_BUF;
	}
	if (p->next) {
		pbuf_copy_partial(p, port->tx, p->tot_len, 0);
		frame = port->tx;
	}
	if (esp_eth_transmit(port->eth, frame, p->tot_len) != ESP_OK) {
		port->counters.tx_errors++;
		return ERR_IF;
	}
	port->counters.tx_frames++;
	port->counters.tx_bytes += p->tot_len;
	return ERR_OK;
}

static err_t port_netif_init(struct netif *netif)
{
	struct esp32_port *port = netif->state;
	netif->name[0] = port == gRole[ROUTER_PORT_WAN] ? 'w' : 'l';
	netif->name[1] = '0';
	netif->output = etharp_output;
	netif->linkoutput = port_linkoutput;
	netif->mtu = 1500;
	netif->hwaddr_len = ETH_HWADDR_LEN;
	esp_eth_ioctl(port->eth, ETH_CMD_G_MAC_ADDR, netif->hwaddr);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP;
	return ERR_OK;
}

/* --- link events --------------------------------------------------------- */

static void apply_link(void *ctx)
{
	struct esp32_port *port = ctx;
	if (!port->attached)
		return;
	if (port->link)
		netif_set_link_up(&port->netif);
	else
		netif_set_link_down(&port->netif);
}

static void eth_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
	esp_eth_handle_t eth = *(esp_eth_handle_t *)data;
	(void)arg;
	(void)base;
	for (int i = 0; i < ESP32_PORT_HW_COUNT; i++) {
		struct esp32_port *port = &gHw[i];
		if (!port->eth || port->eth != eth)
			continue;
		if (id == ETHERNET_EVENT_CONNECTED)
			port->link = 1;
		else if (id == ETHERNET_EVENT_DISCONNECTED)
			port->link = 0;
		else
			return;
		tcpip_callback(apply_link, port);
	}
}

/* --- bring-up ------------------------------------------------------------ */

static void power_on(int gpio)
{
	if (gpio < 0)
		return;
	gpio_reset_pin(gpio);
	gpio_set_direction(gpio, GPIO_MODE_OUTPUT);
	gpio_set_level(gpio, 1);
	vTaskDelay(pdMS_TO_TICKS(20));   /* oscillator / PHY supply settles */
}

static esp_eth_handle_t start_emac(void)
{
	eth_mac_config_t mac_config = ETH_MAC_DEFAULT_CONFIG();
	eth_phy_config_t phy_config = ETH_PHY_DEFAULT_CONFIG();
	eth_esp32_emac_config_t emac = ETH_ESP32_EMAC_DEFAULT_CONFIG();
	esp_eth_mac_t *mac;
	esp_eth_phy_t *phy;
	esp_eth_handle_t eth = NULL;

	emac.smi_gpio.mdc_num = MODDEF_BOARD_EMAC_MDC;
	emac.smi_gpio.mdio_num = MODDEF_BOARD_EMAC_MDIO;
	/* v6.0 configures the RMII clock here only (its Kconfig options are gone). */
	emac.clock_config.rmii.clock_mode = MODDEF_BOARD_EMAC_CLOCK_OUT ? EMAC_CLK_OUT : EMAC_CLK_EXT_IN;
	emac.clock_config.rmii.clock_gpio = MODDEF_BOARD_EMAC_CLOCK_GPIO;
	/*
	 * The EMAC's DMA and the SPI master's DMA share the internal bus; with
	 * the default 32-beat bursts the EMAC starves SPI transfers to the
	 * W5500 (and loses frames itself) under load. Short bursts fix it.
	 */
	emac.dma_burst_len = ETH_DMA_BURST_LEN_4;

	phy_config.phy_addr = MODDEF_BOARD_EMAC_PHY_ADDRESS;
	phy_config.reset_gpio_num = MODDEF_BOARD_EMAC_PHY_RESET;

	power_on(MODDEF_BOARD_EMAC_PHY_POWER);
	mac = esp_eth_mac_new_esp32(&emac, &mac_config);
	/* The board names its PHY ("lan87xx" or "ip101"), each an esp-eth-drivers component. */
	if (!strcmp(MODDEF_BOARD_EMAC_PHY, "ip101"))
		phy = esp_eth_phy_new_ip101(&phy_config);
	else
		phy = esp_eth_phy_new_lan87xx(&phy_config);
	if (!mac || !phy) {
		fail("EMAC: cannot create MAC or PHY driver");
		return NULL;
	}
	esp_eth_config_t config = ETH_DEFAULT_CONFIG(mac, phy);
	if (esp_eth_driver_install(&config, &eth) != ESP_OK) {
		fail("EMAC: driver install failed (PHY address, clock or power pin?)");
		return NULL;
	}
	return eth;
}

static spi_host_device_t spi_host(int n)
{
	return n == 3 ? SPI3_HOST : SPI2_HOST;
}

static esp_eth_handle_t start_w5500(void)
{
	spi_bus_config_t bus = {
		.miso_io_num = MODDEF_BOARD_W5500_MISO,
		.mosi_io_num = MODDEF_BOARD_W5500_MOSI,
		.sclk_io_num = MODDEF_BOARD_W5500_SCLK,
		.quadwp_io_num = -1,
		.quadhd_io_num = -1,
	};
	spi_device_interface_config_t device = {
		.mode = 0,
		.clock_speed_hz = MODDEF_BOARD_W5500_MHZ * 1000 * 1000,
		.spics_io_num = MODDEF_BOARD_W5500_CS,
		.queue_size = 20,
	};
	eth_mac_config_t mac_config = ETH_MAC_DEFAULT_CONFIG();
	eth_phy_config_t phy_config = ETH_PHY_DEFAULT_CONFIG();
	spi_host_device_t host = spi_host(MODDEF_BOARD_W5500_SPI_HOST);
	eth_w5500_config_t w5500 = ETH_W5500_DEFAULT_CONFIG(host, &device);
	esp_eth_mac_t *mac;
	esp_eth_phy_t *phy;
	esp_eth_handle_t eth = NULL;
	esp_err_t err;

	err = gpio_install_isr_service(0);
	if (err != ESP_OK && err != ESP_ERR_INVALID_STATE) {
		fail("W5500: cannot install the GPIO interrupt service");
		return NULL;
	}
	if (spi_bus_initialize(host, &bus, SPI_DMA_CH_AUTO) != ESP_OK) {
		fail("W5500: cannot initialize the SPI bus");
		return NULL;
	}
	/* espressif/w5500 2.x: the settings common to WIZnet chips are under .base (wiznet_common). */
	w5500.base.int_gpio_num = MODDEF_BOARD_W5500_INT;
	if (w5500.base.int_gpio_num < 0)
		w5500.base.poll_period_ms = 10;   /* no INT line wired: poll */
	phy_config.reset_gpio_num = MODDEF_BOARD_W5500_RESET;
	mac = esp_eth_mac_new_w5500(&w5500, &mac_config);
	phy = esp_eth_phy_new_w5500(&phy_config);
	if (!mac || !phy) {
		fail("W5500: cannot create MAC or PHY driver");
		return NULL;
	}
	esp_eth_config_t config = ETH_DEFAULT_CONFIG(mac, phy);
	if (esp_eth_driver_install(&config, &eth) != ESP_OK) {
		fail("W5500: driver install failed (wiring, SPI clock?)");
		return NULL;
	}
	return eth;
}

static void attach(struct esp32_port *port, const uint8_t mac[6])
{
	esp_eth_ioctl(port->eth, ETH_CMD_S_MAC_ADDR, (void *)mac);
	esp_eth_update_input_path(port->eth, port_input, port);
	LOCK_TCPIP_CORE();
	if (netif_add_noaddr(&port->netif, port, port_netif_init, port_netif_input))
		port->attached = 1;
	UNLOCK_TCPIP_CORE();
	if (!port->attached) {
		fail("cannot add an lwIP netif");
		return;
	}
	if (esp_eth_start(port->eth) != ESP_OK)
		fail("cannot start an Ethernet driver");
}

int esp32_ports_start(void)
{
	uint8_t mac[6], derived[6];
	enum esp32_port_hw wan;
	esp_err_t err;

	if (gStarted)
		return gResult;
	gStarted = 1;

	/* The tcpip thread and the default event loop; either may exist already (Moddable's main). */
	esp_netif_init();
	err = esp_event_loop_create_default();
	if (err != ESP_OK && err != ESP_ERR_INVALID_STATE)
		fail("cannot create the default event loop");
	if (esp_event_handler_instance_register(ETH_EVENT, ESP_EVENT_ANY_ID, eth_event, NULL, &gEthEvents) != ESP_OK)
		fail("cannot follow Ethernet link events");

	wan = esp32_ports_wan_hw();
	gRole[ROUTER_PORT_WAN] = &gHw[wan];
	gRole[ROUTER_PORT_LAN] = &gHw[wan == ESP32_PORT_EMAC ? ESP32_PORT_W5500 : ESP32_PORT_EMAC];
	gHw[ESP32_PORT_EMAC].label = "emac";
	gHw[ESP32_PORT_W5500].label = "w5500";

	/*
	 * The EMAC gets the chip's Ethernet MAC from efuse; the W5500 has none
	 * of its own, so it gets the locally administered address derived
	 * from it: stable across restarts, unique per board.
	 */
	esp_read_mac(mac, ESP_MAC_ETH);
	esp_derive_local_mac(derived, mac);

	gHw[ESP32_PORT_EMAC].eth = start_emac();
	gHw[ESP32_PORT_W5500].eth = start_w5500();
	if (gHw[ESP32_PORT_EMAC].eth)
		attach(&gHw[ESP32_PORT_EMAC], mac);
	if (gHw[ESP32_PORT_W5500].eth)
		attach(&gHw[ESP32_PORT_W5500], derived);
	gResult = gError ? -1 : 0;
	return gResult;
}

/* --- ports.h ------------------------------------------------------------- */

struct netif *router_port_netif(enum router_port_role role)
{
	if (role >= ROUTER_PORT_COUNT || !gRole[role] || !gRole[role]->attached)
		return NULL;
	return &gRole[role]->netif;
}

const char *router_port_device(enum router_port_role role)
{
	if (role >= ROUTER_PORT_COUNT || !gRole[role] || !gRole[role]->attached)
		return "none";
	return gRole[role]->label;
}

void router_port_counters(enum router_port_role role, struct router_port_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (role < ROUTER_PORT_COUNT && gRole[role])
		*out = gRole[role]->counters;
}
