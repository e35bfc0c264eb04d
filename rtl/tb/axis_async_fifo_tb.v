/*
 * lzcache — testbench for axis_async_fifo under two unrelated clocks
 *
 * The simulator crate's models run on one clock, so the clock-domain crossing is checked here
 * instead, by a self-checking Verilator testbench with timing (verilator --binary --timing):
 * two clocks whose periods and phase come from the command line, random idle cycles on the
 * input, random backpressure (and long stalls, so the FIFO fills) on the output, every beat
 * compared with what was sent, and the stream protocol checked on every output cycle.
 *
 * Plusargs: +s_half_ps=N +m_half_ps=N (half periods), +phase_ps=N (m_clk's delay), +beats=N
 * per FIFO, +seed=N. Prints PASS and exits 0, or stops with $fatal.
 */

`timescale 1ns / 1ps
`default_nettype none

// Stimulus, scoreboard and protocol check around one FIFO.
module axis_async_fifo_check #
(
    // FIFO configuration under test
    parameter DEPTH = 16,
    parameter USER_WIDTH = 1,
    // Distinguishes this checker's random streams from the other's
    parameter [31:0] SALT = 32'h1
)
(
    input  wire        s_clk,
    input  wire        m_clk,
    input  wire        rst,
    input  wire [31:0] seed,
    input  wire [31:0] beats,
    output reg         done = 1'b0
);

localparam DATA_WIDTH = 32;

// xorshift32: a deterministic random stream per side
function [31:0] step;
    input [31:0] x;
    reg [31:0] y;
    begin
        y = x ^ (x << 13);
        y = y ^ (y >> 17);
        step = y ^ (y << 5);
    end
endfunction

// The beat with sequence number n: its data, last and user, all derived from n
function [DATA_WIDTH+USER_WIDTH:0] beat;
    input [31:0] n;
    reg [63:0] h;
    begin
        h = {n * 32'h9E3779B1, (n ^ SALT) * 32'h85EBCA6B};
        beat = {h[63 -: USER_WIDTH], h[5:3] == 3'd0, n ^ h[31:0] ^ h[63:32]};
    end
endfunction

reg  [DATA_WIDTH-1:0] s_tdata = {DATA_WIDTH{1'b0}};
reg                   s_tvalid = 1'b0;
reg                   s_tlast = 1'b0;
reg  [USER_WIDTH-1:0] s_tuser = {USER_WIDTH{1'b0}};
wire                  s_tready;
wire [DATA_WIDTH-1:0] m_tdata;
wire                  m_tvalid;
reg                   m_tready = 1'b0;
wire                  m_tlast;
wire [USER_WIDTH-1:0] m_tuser;

axis_async_fifo #(
    .DATA_WIDTH(DATA_WIDTH),
    .USER_WIDTH(USER_WIDTH),
    .DEPTH(DEPTH)
)
dut (
    .s_clk(s_clk),
    .s_rst(rst),
    .s_axis_tdata(s_tdata),
    .s_axis_tvalid(s_tvalid),
    .s_axis_tready(s_tready),
    .s_axis_tlast(s_tlast),
    .s_axis_tuser(s_tuser),
    .m_clk(m_clk),
    .m_rst(rst),
    .m_axis_tdata(m_tdata),
    .m_axis_tvalid(m_tvalid),
    .m_axis_tready(m_tready),
    .m_axis_tlast(m_tlast),
    .m_axis_tuser(m_tuser)
);

/*
 * Source: beats in order, idle about one cycle in four, never dropping a presented beat
 */

reg [31:0] s_rand = 32'd0;
reg [31:0] sent = 32'd0;
reg [31:0] full_cycles = 32'd0;

always @(posedge s_clk) begin
    if (rst) begin
        s_rand <= seed ^ SALT ^ 32'h5A5A_0001;
        s_tvalid <= 1'b0;
        sent <= 32'd0;
    end else begin
        s_rand <= step(s_rand);
        if (s_tvalid && !s_tready) begin
            full_cycles <= full_cycles + 32'd1;
        end
        if (!s_tvalid || s_tready) begin
            if (s_tvalid) begin
                sent <= sent + 32'd1;
            end
            if ((s_tvalid ? sent + 32'd1 : sent) < beats && s_rand[1:0] != 2'd0) begin
                {s_tuser, s_tlast, s_tdata} <= beat(s_tvalid ? sent + 32'd1 : sent);
                s_tvalid <= 1'b1;
            end else begin
                s_tvalid <= 1'b0;
            end
        end
    end
end

/*
 * Sink: random backpressure, and every 1024 beats a stall of 64 cycles
 */

reg [31:0] m_rand = 32'd0;
reg [31:0] received = 32'd0;
reg [6:0]  stall = 7'd0;
reg        held = 1'b0;
reg [DATA_WIDTH+USER_WIDTH:0] held_beat = {(DATA_WIDTH+USER_WIDTH+1){1'b0}};
reg [31:0] quiet = 32'd0;

always @(posedge m_clk) begin
    if (rst) begin
        m_rand <= seed ^ SALT ^ 32'hC3C3_0002;
        m_tready <= 1'b0;
        received <= 32'd0;
        held <= 1'b0;
    end else begin
        m_rand <= step(m_rand);

        // Protocol: a beat not taken stays, unchanged, until it is.
        if (held && !(m_tvalid && {m_tuser, m_tlast, m_tdata} == held_beat)) begin
            $fatal(1, "FAIL: output beat %0d withdrawn or changed before tready (depth %0d)",
                received, DEPTH);
        end
        held <= m_tvalid && !m_tready;
        held_beat <= {m_tuser, m_tlast, m_tdata};

        if (m_tvalid && m_tready) begin
            if ({m_tuser, m_tlast, m_tdata} != beat(received)) begin
                $fatal(1, "FAIL: beat %0d is %h, sent %h (depth %0d)", received,
                    {m_tuser, m_tlast, m_tdata}, beat(received), DEPTH);
            end
            received <= received + 32'd1;
            quiet <= 32'd0;
            if (received[9:0] == 10'd1023) begin
                stall <= 7'd64;
            end
        end else begin
            quiet <= quiet + 32'd1;
            if (quiet > 32'd100000) begin
                $fatal(1, "FAIL: no beat for 100000 cycles after %0d of %0d (depth %0d)",
                    received, beats, DEPTH);
            end
        end

        if (stall != 7'd0) begin
            stall <= stall - 7'd1;
            m_tready <= 1'b0;
        end else begin
            m_tready <= m_rand[2:0] > 3'd2;
        end

        if (received == beats && !done) begin
            if (full_cycles == 32'd0) begin
                $fatal(1, "FAIL: the FIFO never filled (depth %0d)", DEPTH);
            end
            $display("depth %0d: %0d beats in order, full for %0d input cycles", DEPTH,
                received, full_cycles);
            done <= 1'b1;
        end
    end
end

endmodule

module axis_async_fifo_tb;

reg s_clk = 1'b0;
reg m_clk = 1'b0;
reg rst = 1'b1;

integer s_half_ps = 5000;
integer m_half_ps = 4000;
integer phase_ps = 1300;
integer beats_arg = 20000;
integer seed_arg = 1;

wire [1:0] done;

initial begin
    if (!$value$plusargs("s_half_ps=%d", s_half_ps)) s_half_ps = 5000;
    if (!$value$plusargs("m_half_ps=%d", m_half_ps)) m_half_ps = 4000;
    if (!$value$plusargs("phase_ps=%d", phase_ps)) phase_ps = 1300;
    if (!$value$plusargs("beats=%d", beats_arg)) beats_arg = 20000;
    if (!$value$plusargs("seed=%d", seed_arg)) seed_arg = 1;
    $display("s_clk %0d ps, m_clk %0d ps (+%0d ps), %0d beats, seed %0d", 2 * s_half_ps,
        2 * m_half_ps, phase_ps, beats_arg, seed_arg);
end

initial begin
    #1;
    forever #(s_half_ps / 1000.0) s_clk = !s_clk;
end

initial begin
    #(1 + phase_ps / 1000.0);
    forever #(m_half_ps / 1000.0) m_clk = !m_clk;
end

// Reset for 20 cycles of the slower clock, as the board holds it
initial begin
    #(1 + 40 * (s_half_ps > m_half_ps ? s_half_ps : m_half_ps) / 1000.0);
    rst = 1'b0;
end

axis_async_fifo_check #(.DEPTH(4), .USER_WIDTH(1), .SALT(32'h0000_0004))
smallest (
    .s_clk(s_clk),
    .m_clk(m_clk),
    .rst(rst),
    .seed(seed_arg),
    .beats(beats_arg),
    .done(done[0])
);

// The board's replies FIFO: 32-bit data with a 48-bit destination
axis_async_fifo_check #(.DEPTH(16), .USER_WIDTH(48), .SALT(32'h0000_0010))
board (
    .s_clk(s_clk),
    .m_clk(m_clk),
    .rst(rst),
    .seed(seed_arg),
    .beats(beats_arg),
    .done(done[1])
);

always @(posedge m_clk) begin
    if (&done) begin
        $display("PASS");
        $finish;
    end
end

endmodule

`default_nettype wire
