/*
 * lzcache — board top: the CacheAccelerator behind gigabit Ethernet on an ECP5 board
 *
 * LiteEth's UDP/IP core (generated at build time from boards/<board>/liteeth.yml) with the
 * ECP5 RGMII PHY, and the board core (rtl/board_core.v: UDP job bridge + 64-bit accelerator)
 * on its user ports. One PLL on the board's 100 MHz oscillator makes both clocks: 75 MHz for
 * the accelerator (what the whole board design closes timing at: placed beside LiteEth on a
 * part this full, the engines do not reach the 100 MHz their harnesses do) and 62.5 MHz for the
 * Ethernet core, 32 bits wide (250 MB/s, twice gigabit line rate), with a clock-crossing FIFO
 * on each of its two streams. On one shared clock LiteEth's receive path (MAC FIFO -> IP ->
 * ICMP ready chain) placed at 94 MHz on the 45F-8; neither side is slowed to match the other.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// The UDP/IP core has two user ports: `jobs` receives on the board's port (UDP_PORT,
// 7440), `replies` sends to the address and port the latest request named (its receive side
// listens on that port and is drained). Reset: a power-on count that restarts while the PLL
// is unlocked, and the board's reset button, brought into each clock domain. LEDs: [0]
// heartbeat (about 0.6 Hz: the bitstream is loaded and the clock runs), [1] a datagram
// arrived (stretched to about 110 ms).
module lzcache_board_top #
(
    // The board's LEDs light on a low output
    parameter LED_ACTIVE_LOW = 1
)
(
    input  wire       clk100,
    input  wire       rst_n,

    /*
     * RGMII PHY
     */
    input  wire       eth_rx_clk,
    output wire       eth_tx_clk,
    input  wire       eth_rx_ctl,
    input  wire [3:0] eth_rx_data,
    output wire       eth_tx_ctl,
    output wire [3:0] eth_tx_data,
    output wire       eth_rst_n,
    output wire       eth_mdc,
    input  wire       eth_mdio,

    output wire [1:0] led
);

/*
 * Clocks: phase detector 100 MHz / 8 = 12.5 MHz, feedback from CLKOP (x5: 62.5 MHz), VCO
 * 62.5 MHz * 12 = 750 MHz; CLKOP = VCO / 12 = 62.5 MHz for the Ethernet core, CLKOS = VCO / 10
 * = 75 MHz for the accelerator. nextpnr derives both constraints from clk100's.
 */

wire eth_sys_clk;
wire accel_clk;
wire pll_locked;

EHXPLLL #(
    .PLLRST_ENA("DISABLED"),
    .INTFB_WAKE("DISABLED"),
    .STDBY_ENABLE("DISABLED"),
    .DPHASE_SOURCE("DISABLED"),
    .OUTDIVIDER_MUXA("DIVA"),
    .OUTDIVIDER_MUXB("DIVB"),
    .OUTDIVIDER_MUXC("DIVC"),
    .OUTDIVIDER_MUXD("DIVD"),
    .CLKI_DIV(8),
    .CLKFB_DIV(5),
    .FEEDBK_PATH("CLKOP"),
    .CLKOP_ENABLE("ENABLED"),
    .CLKOP_DIV(12),
    .CLKOP_CPHASE(5),
    .CLKOP_FPHASE(0),
    .CLKOS_ENABLE("ENABLED"),
    .CLKOS_DIV(10),
    .CLKOS_CPHASE(4),
    .CLKOS_FPHASE(0)
)
eth_pll (
    .RST(1'b0),
    .STDBY(1'b0),
    .CLKI(clk100),
    .CLKOP(eth_sys_clk),
    .CLKFB(eth_sys_clk),
    .CLKINTFB(),
    .CLKOS(accel_clk),
    .CLKOS2(),
    .CLKOS3(),
    .PHASESEL0(1'b0),
    .PHASESEL1(1'b0),
    .PHASEDIR(1'b1),
    .PHASESTEP(1'b1),
    .PHASELOADREG(1'b1),
    .PLLWAKESYNC(1'b0),
    .ENCLKOP(1'b0),
    .ENCLKOS(1'b0),
    .ENCLKOS2(1'b0),
    .ENCLKOS3(1'b0),
    .LOCK(pll_locked),
    .INTLOCK(),
    .REFCLK()
);

/*
 * Reset: held for 255 cycles of clk100 after configuration and after the PLL locks, and while
 * the button is pressed; released in each domain through two flip-flops. Both sides of the
 * clock-crossing FIFOs are in reset together, for at least 150 cycles of the slower clock.
 */

reg  [1:0] locked_sync_reg = 2'b00;
reg  [7:0] por_count_reg = 8'd0;
wire       por_done = &por_count_reg;
wire       reset_request = !rst_n || !por_done;

always @(posedge clk100) begin
    locked_sync_reg <= {locked_sync_reg[0], pll_locked};
    if (!locked_sync_reg[1]) begin
        por_count_reg <= 8'd0;
    end else if (!por_done) begin
        por_count_reg <= por_count_reg + 8'd1;
    end
end

reg [1:0] rst_sync_reg = 2'b11;
reg [1:0] eth_rst_sync_reg = 2'b11;
wire      rst = rst_sync_reg[1];
wire      eth_rst = eth_rst_sync_reg[1];

always @(posedge accel_clk) begin
    rst_sync_reg <= {rst_sync_reg[0], reset_request};
end

always @(posedge eth_sys_clk) begin
    eth_rst_sync_reg <= {eth_rst_sync_reg[0], reset_request};
end

/*
 * UDP/IP core (LiteEth, generated)
 */

// On eth_sys_clk
wire [31:0] eth_jobs_data;
wire        eth_jobs_valid, eth_jobs_ready, eth_jobs_last, eth_jobs_error;
wire [31:0] eth_replies_data;
wire        eth_replies_valid, eth_replies_ready, eth_replies_last;
wire [47:0] eth_reply_to;

wire [31:0] unused_jobs_tx_data, unused_replies_rx_data;
wire        unused_jobs_tx_ready, unused_replies_rx_valid, unused_replies_rx_last,
            unused_replies_rx_error;

liteeth_core ethernet (
    .sys_clock(eth_sys_clk),
    .sys_reset(eth_rst),
    .rgmii_clocks_rx(eth_rx_clk),
    .rgmii_clocks_tx(eth_tx_clk),
    .rgmii_rx_ctl(eth_rx_ctl),
    .rgmii_rx_data(eth_rx_data),
    .rgmii_tx_ctl(eth_tx_ctl),
    .rgmii_tx_data(eth_tx_data),
    .rgmii_rst_n(eth_rst_n),
    .rgmii_mdc(eth_mdc),
    .rgmii_mdio(eth_mdio),
    .rgmii_int_n(1'b1),
    // Jobs in on the board's port; nothing is sent from it.
    .jobs_source_data(eth_jobs_data),
    .jobs_source_valid(eth_jobs_valid),
    .jobs_source_ready(eth_jobs_ready),
    .jobs_source_last(eth_jobs_last),
    .jobs_source_error(eth_jobs_error),
    .jobs_sink_data(32'd0),
    .jobs_sink_valid(1'b0),
    .jobs_sink_last(1'b0),
    .jobs_sink_ready(unused_jobs_tx_ready),
    // Results and register answers out to the host; what arrives on that port is dropped.
    .replies_sink_data(eth_replies_data),
    .replies_sink_valid(eth_replies_valid),
    .replies_sink_ready(eth_replies_ready),
    .replies_sink_last(eth_replies_last),
    .replies_ip_address(eth_reply_to[31:0]),
    .replies_udp_port(eth_reply_to[47:32]),
    .replies_source_data(unused_replies_rx_data),
    .replies_source_valid(unused_replies_rx_valid),
    .replies_source_ready(1'b1),
    .replies_source_last(unused_replies_rx_last),
    .replies_source_error(unused_replies_rx_error)
);

/*
 * The streams across the clock domains
 */

// On accel_clk
wire [31:0] jobs_data;
wire        jobs_valid, jobs_ready, jobs_last, jobs_error;
wire [31:0] replies_data;
wire        replies_valid, replies_ready, replies_last;
wire [47:0] reply_to;

axis_async_fifo #(
    .DATA_WIDTH(32),
    .USER_WIDTH(1),
    .DEPTH(16)
)
jobs_crossing (
    .s_clk(eth_sys_clk),
    .s_rst(eth_rst),
    .s_axis_tdata(eth_jobs_data),
    .s_axis_tvalid(eth_jobs_valid),
    .s_axis_tready(eth_jobs_ready),
    .s_axis_tlast(eth_jobs_last),
    .s_axis_tuser(eth_jobs_error),
    .m_clk(accel_clk),
    .m_rst(rst),
    .m_axis_tdata(jobs_data),
    .m_axis_tvalid(jobs_valid),
    .m_axis_tready(jobs_ready),
    .m_axis_tlast(jobs_last),
    .m_axis_tuser(jobs_error)
);

// The destination travels with every beat: it is constant within a datagram, and LiteEth
// reads it beside the datagram's data.
axis_async_fifo #(
    .DATA_WIDTH(32),
    .USER_WIDTH(48),
    .DEPTH(16)
)
replies_crossing (
    .s_clk(accel_clk),
    .s_rst(rst),
    .s_axis_tdata(replies_data),
    .s_axis_tvalid(replies_valid),
    .s_axis_tready(replies_ready),
    .s_axis_tlast(replies_last),
    .s_axis_tuser(reply_to),
    .m_clk(eth_sys_clk),
    .m_rst(eth_rst),
    .m_axis_tdata(eth_replies_data),
    .m_axis_tvalid(eth_replies_valid),
    .m_axis_tready(eth_replies_ready),
    .m_axis_tlast(eth_replies_last),
    .m_axis_tuser(eth_reply_to)
);

/*
 * Board core: UDP job bridge and accelerator
 */

wire [3:0] unused_keep;

board_core core (
    .clk(accel_clk),
    .rst(rst),
    .s_axis_tdata(jobs_data),
    .s_axis_tkeep(4'hF),
    .s_axis_tvalid(jobs_valid),
    .s_axis_tready(jobs_ready),
    .s_axis_tlast(jobs_last),
    .s_axis_tuser(jobs_error),
    .m_axis_tdata(replies_data),
    .m_axis_tkeep(unused_keep),
    .m_axis_tvalid(replies_valid),
    .m_axis_tready(replies_ready),
    .m_axis_tlast(replies_last),
    .m_axis_tuser(reply_to)
);

/*
 * LEDs
 */

reg [26:0] heartbeat_reg = 27'd0;
reg [22:0] activity_reg = 23'd0;

always @(posedge accel_clk) begin
    heartbeat_reg <= heartbeat_reg + 27'd1;
    if (jobs_valid && jobs_ready && jobs_last) begin
        activity_reg <= {23{1'b1}};
    end else if (activity_reg != 23'd0) begin
        activity_reg <= activity_reg - 23'd1;
    end
end

wire [1:0] led_on = {activity_reg != 23'd0, heartbeat_reg[26]};
assign led = LED_ACTIVE_LOW ? ~led_on : led_on;

endmodule

`resetall
`default_nettype wire
