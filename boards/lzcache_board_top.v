/*
 * lzcache — board top: the CacheAccelerator behind gigabit Ethernet on an ECP5 board
 *
 * LiteEth's UDP/IP core (generated at build time from boards/<board>/liteeth.yml) with the
 * ECP5 RGMII PHY, and the board core (rtl/board_core.v: UDP job bridge + 64-bit accelerator)
 * on its user ports. One 100 MHz clock from the board's oscillator runs both.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// The UDP/IP core has two user ports: `jobs` receives on the board's port (UDP_PORT,
// 7440), `replies` sends to the address and port the latest request named (its receive side
// listens on that port and is drained). Reset: a power-on count, and the board's reset button.
// LEDs: [0] heartbeat (about 1.5 Hz: the bitstream is loaded and the clock runs), [1] a
// datagram arrived (stretched to about 80 ms).
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
 * Reset: held for 255 cycles after configuration and while the button is pressed
 */

reg  [7:0] por_count_reg = 8'd0;
reg  [1:0] rst_sync_reg = 2'b11;
wire       por_done = &por_count_reg;
wire       rst = rst_sync_reg[1];

always @(posedge clk100) begin
    if (!por_done) begin
        por_count_reg <= por_count_reg + 8'd1;
    end
    rst_sync_reg <= {rst_sync_reg[0], !rst_n || !por_done};
end

/*
 * UDP/IP core (LiteEth, generated)
 */

wire [31:0] jobs_data;
wire        jobs_valid, jobs_ready, jobs_last, jobs_error;
wire [31:0] replies_data;
wire        replies_valid, replies_ready, replies_last;
wire [47:0] reply_to;

wire [31:0] unused_jobs_tx_data, unused_replies_rx_data;
wire        unused_jobs_tx_ready, unused_replies_rx_valid, unused_replies_rx_last,
            unused_replies_rx_error;

liteeth_core ethernet (
    .sys_clock(clk100),
    .sys_reset(rst),
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
    .jobs_source_data(jobs_data),
    .jobs_source_valid(jobs_valid),
    .jobs_source_ready(jobs_ready),
    .jobs_source_last(jobs_last),
    .jobs_source_error(jobs_error),
    .jobs_sink_data(32'd0),
    .jobs_sink_valid(1'b0),
    .jobs_sink_last(1'b0),
    .jobs_sink_ready(unused_jobs_tx_ready),
    // Results and register answers out to the host; what arrives on that port is dropped.
    .replies_sink_data(replies_data),
    .replies_sink_valid(replies_valid),
    .replies_sink_ready(replies_ready),
    .replies_sink_last(replies_last),
    .replies_ip_address(reply_to[31:0]),
    .replies_udp_port(reply_to[47:32]),
    .replies_source_data(unused_replies_rx_data),
    .replies_source_valid(unused_replies_rx_valid),
    .replies_source_ready(1'b1),
    .replies_source_last(unused_replies_rx_last),
    .replies_source_error(unused_replies_rx_error)
);

/*
 * Board core: UDP job bridge and accelerator
 */

wire [3:0] unused_keep;

board_core core (
    .clk(clk100),
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

always @(posedge clk100) begin
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
