/*
 * lzcache — board core: the narrow CacheAccelerator behind the UDP job bridge
 *
 * Everything of a board design inside the UDP/IP core's user port: what the simulator runs
 * and what each board top (boards/<board>/top.v) wraps with LiteEth and its pins.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// The narrow accelerator for an ECP5-class part: 64-bit streams, one engine of each kind and
// the checksum unit; jobs up to MAX_JOB_BYTES (the host sends larger values to software); a
// small compressor (4 KiB window, literal buffer and dictionary, 1024-entry hash table: its
// offsets reach no further than 4 KiB, so a longer dictionary's tail is all it needs);
// decompressor history of MAX_JOB_BYTES (a job's offsets reach no further) and a DICT_SIZE
// dictionary.
module board_core #
(
    // Width of the accelerator's streams in bits (64: the narrow configuration)
    parameter DATA_WIDTH = 64,
    // Largest job in bytes (a power of two; what the device reports in REG_MAX_JOB)
    parameter MAX_JOB_BYTES = 16384,
    // Decompressor preset dictionary in bytes (a power of two)
    parameter DICT_SIZE = 16384
)
(
    input  wire        clk,
    input  wire        rst,

    /*
     * UDP user port, datagrams in: one datagram a frame of 32-bit words (its first byte in
     * [7:0]); tuser is the UDP core's error flag. The core has no byte enables: tkeep is
     * ignored (the datagram header says how many bytes are data).
     */
    input  wire [31:0] s_axis_tdata,
    input  wire [3:0]  s_axis_tkeep,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,
    input  wire        s_axis_tlast,
    input  wire        s_axis_tuser,

    /*
     * UDP user port, datagrams out; tuser is where they go: {UDP port, IPv4 address}
     */
    output wire [31:0] m_axis_tdata,
    output wire [3:0]  m_axis_tkeep,
    output wire        m_axis_tvalid,
    input  wire        m_axis_tready,
    output wire        m_axis_tlast,
    output wire [47:0] m_axis_tuser
);

localparam KEEP_WIDTH = DATA_WIDTH / 8;

assign m_axis_tkeep = 4'hF;

initial begin
    if (DATA_WIDTH != 64) begin
        $error("Error: the board core is the 64-bit configuration (instance %m)");
        $finish;
    end
end

wire [DATA_WIDTH-1:0] job_tdata, result_tdata;
wire [KEEP_WIDTH-1:0] job_tkeep, result_tkeep;
wire                  job_tvalid, job_tready, job_tlast;
wire                  result_tvalid, result_tready, result_tlast;

wire [11:0] axil_awaddr, axil_araddr;
wire [2:0]  axil_awprot, axil_arprot;
wire        axil_awvalid, axil_awready, axil_wvalid, axil_wready, axil_bvalid, axil_bready;
wire        axil_arvalid, axil_arready, axil_rvalid, axil_rready;
wire [31:0] axil_wdata, axil_rdata;
wire [3:0]  axil_wstrb;
wire [1:0]  axil_bresp, axil_rresp;

udp_job_bridge #(
    .DATA_WIDTH(DATA_WIDTH),
    .MAX_JOB_BYTES(MAX_JOB_BYTES),
    .BUFFER_BYTES(2 * MAX_JOB_BYTES)
)
bridge (
    .clk(clk),
    .rst(rst),
    .s_udp_data(s_axis_tdata),
    .s_udp_valid(s_axis_tvalid),
    .s_udp_ready(s_axis_tready),
    .s_udp_last(s_axis_tlast),
    .s_udp_error(s_axis_tuser),
    .m_udp_data(m_axis_tdata),
    .m_udp_valid(m_axis_tvalid),
    .m_udp_ready(m_axis_tready),
    .m_udp_last(m_axis_tlast),
    .reply_ip(m_axis_tuser[31:0]),
    .reply_port(m_axis_tuser[47:32]),
    .m_axis_tdata(job_tdata),
    .m_axis_tkeep(job_tkeep),
    .m_axis_tvalid(job_tvalid),
    .m_axis_tready(job_tready),
    .m_axis_tlast(job_tlast),
    .s_axis_tdata(result_tdata),
    .s_axis_tkeep(result_tkeep),
    .s_axis_tvalid(result_tvalid),
    .s_axis_tready(result_tready),
    .s_axis_tlast(result_tlast),
    .m_axil_awaddr(axil_awaddr),
    .m_axil_awprot(axil_awprot),
    .m_axil_awvalid(axil_awvalid),
    .m_axil_awready(axil_awready),
    .m_axil_wdata(axil_wdata),
    .m_axil_wstrb(axil_wstrb),
    .m_axil_wvalid(axil_wvalid),
    .m_axil_wready(axil_wready),
    .m_axil_bresp(axil_bresp),
    .m_axil_bvalid(axil_bvalid),
    .m_axil_bready(axil_bready),
    .m_axil_araddr(axil_araddr),
    .m_axil_arprot(axil_arprot),
    .m_axil_arvalid(axil_arvalid),
    .m_axil_arready(axil_arready),
    .m_axil_rdata(axil_rdata),
    .m_axil_rresp(axil_rresp),
    .m_axil_rvalid(axil_rvalid),
    .m_axil_rready(axil_rready)
);

cache_accelerator #(
    .DATA_WIDTH(DATA_WIDTH),
    .N_COMPRESS(1),
    .N_DECOMPRESS(1),
    .MAX_JOB_BYTES(MAX_JOB_BYTES),
    .HISTORY_SIZE(MAX_JOB_BYTES),
    .HASH_BITS(10),
    .COMPRESS_WINDOW(4096),
    .COMPRESS_LITERALS(4096),
    .DICT_SIZE(DICT_SIZE),
    .COMPRESS_DICT_SIZE(4096)
)
accelerator (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(job_tdata),
    .s_axis_tkeep(job_tkeep),
    .s_axis_tvalid(job_tvalid),
    .s_axis_tready(job_tready),
    .s_axis_tlast(job_tlast),
    .m_axis_tdata(result_tdata),
    .m_axis_tkeep(result_tkeep),
    .m_axis_tvalid(result_tvalid),
    .m_axis_tready(result_tready),
    .m_axis_tlast(result_tlast),
    .s_axil_awaddr(axil_awaddr),
    .s_axil_awprot(axil_awprot),
    .s_axil_awvalid(axil_awvalid),
    .s_axil_awready(axil_awready),
    .s_axil_wdata(axil_wdata),
    .s_axil_wstrb(axil_wstrb),
    .s_axil_wvalid(axil_wvalid),
    .s_axil_wready(axil_wready),
    .s_axil_bresp(axil_bresp),
    .s_axil_bvalid(axil_bvalid),
    .s_axil_bready(axil_bready),
    .s_axil_araddr(axil_araddr),
    .s_axil_arprot(axil_arprot),
    .s_axil_arvalid(axil_arvalid),
    .s_axil_arready(axil_arready),
    .s_axil_rdata(axil_rdata),
    .s_axil_rresp(axil_rresp),
    .s_axil_rvalid(axil_rvalid),
    .s_axil_rready(axil_rready)
);

// Datagrams carry their own lengths.
wire unused = &{1'b0, s_axis_tkeep};

endmodule

`resetall
`default_nettype wire
