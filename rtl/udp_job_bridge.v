/*
 * lzcache — UDP job bridge: the CacheAccelerator's job and result frames in UDP datagrams
 *
 * Sits between a UDP/IP core's user port (LiteEth's UDP streamer: 32-bit words, the first
 * byte of a datagram in bits [7:0], last on a datagram's final word) and the accelerator's
 * 64-bit job and result streams and AXI4-Lite register block.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Datagrams (cache_accelerator_defs.vh, UDP_*): a 24-byte header of six words, then data.
//
// Jobs in: a job frame (64-byte header, payload) arrives as fragments 0, 1, … of
// UDP_FRAGMENT_BYTES data bytes each (the last one shorter), all naming the job's tag and its
// frame length. Fragments are written into a job buffer as they arrive and the job is passed
// to the accelerator only once every byte is in: nothing is ever run from a partial job. A
// fragment 0 starts a job (abandoning a partial one); the next fragment of the same job is
// appended; a repeat of an earlier fragment is dropped and the job kept; anything else (a gap,
// another tag, a damaged or short datagram) abandons the partial job. The host then sees no
// result: it times the job out and redoes it in software.
//
// Results out: each result frame leaves as fragments of the same shape, sent to the address
// and port named in the latest request's header (the host that drives the board).
//
// Registers: a read or write datagram becomes one AXI4-Lite transaction, answered by one
// datagram. Offsets from 0x1000 are the bridge's own counters (BRIDGE_REG_*).
//
// While a finished job streams into the accelerator the bridge takes no datagram (the UDP
// core's receive FIFO holds them): forwarding moves 8 bytes a cycle, the wire brings one
// every 8 ns, so a 16 KiB job holds the input for 21 us, about 2.6 KB of line time.
module udp_job_bridge #
(
    // Width of the accelerator's streams in bits (the narrow accelerator: 64)
    parameter DATA_WIDTH = 64,
    // Width of tkeep
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Largest job payload in bytes (the accelerator's MAX_JOB_BYTES)
    parameter MAX_JOB_BYTES = 16384,
    // Job buffer in bytes (a power of two holding a 64-byte header and MAX_JOB_BYTES)
    parameter BUFFER_BYTES = 32768
)
(
    input  wire                  clk,
    input  wire                  rst,

    /*
     * Datagrams in (the UDP core's receive stream)
     */
    input  wire [31:0]           s_udp_data,
    input  wire                  s_udp_valid,
    output wire                  s_udp_ready,
    input  wire                  s_udp_last,
    input  wire                  s_udp_error,

    /*
     * Datagrams out (the UDP core's send stream) and where they go
     */
    output wire [31:0]           m_udp_data,
    output wire                  m_udp_valid,
    input  wire                  m_udp_ready,
    output wire                  m_udp_last,
    output wire [31:0]           reply_ip,
    output wire [15:0]           reply_port,

    /*
     * Jobs to the accelerator
     */
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,

    /*
     * Results from the accelerator
     */
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,

    /*
     * AXI4-Lite master to the accelerator's registers
     */
    output wire [11:0]           m_axil_awaddr,
    output wire [2:0]            m_axil_awprot,
    output wire                  m_axil_awvalid,
    input  wire                  m_axil_awready,
    output wire [31:0]           m_axil_wdata,
    output wire [3:0]            m_axil_wstrb,
    output wire                  m_axil_wvalid,
    input  wire                  m_axil_wready,
    input  wire [1:0]            m_axil_bresp,
    input  wire                  m_axil_bvalid,
    output wire                  m_axil_bready,
    output wire [11:0]           m_axil_araddr,
    output wire [2:0]            m_axil_arprot,
    output wire                  m_axil_arvalid,
    input  wire                  m_axil_arready,
    input  wire [31:0]           m_axil_rdata,
    input  wire [1:0]            m_axil_rresp,
    input  wire                  m_axil_rvalid,
    output wire                  m_axil_rready
);

/* verilator lint_off UNUSEDPARAM */
`include "cache_accelerator_defs.vh"
/* verilator lint_on UNUSEDPARAM */

localparam BUFFER_WORDS = BUFFER_BYTES / KEEP_WIDTH;
localparam ADDR_WIDTH = $clog2(BUFFER_WORDS);
localparam [31:0] MAX_FRAME = 32'd64 + MAX_JOB_BYTES;
localparam [15:0] FRAGMENT = UDP_FRAGMENT_BYTES;
localparam [2:0] LAST_HEADER_WORD = 3'd5;

initial begin
    if (DATA_WIDTH != 64) begin
        $error("Error: the bridge packs two 32-bit words per beat: DATA_WIDTH must be 64 (instance %m)");
        $finish;
    end
    if ((1 << ADDR_WIDTH) != BUFFER_WORDS || BUFFER_BYTES < 64 + MAX_JOB_BYTES) begin
        $error("Error: BUFFER_BYTES must be a power of two of at least 64 + MAX_JOB_BYTES (instance %m)");
        $finish;
    end
end

/*
 * Counters
 */

reg [31:0] datagrams_reg = 32'd0;
reg [31:0] dropped_reg = 32'd0;
reg [31:0] abandoned_reg = 32'd0;
reg [31:0] jobs_reg = 32'd0;
reg [31:0] results_reg = 32'd0;

/*
 * Receive: header words, then job data into the buffer or a register operation
 */

localparam [2:0]
    RX_HEADER = 3'd0,
    RX_CHECK = 3'd1,
    RX_DECIDE = 3'd2,
    RX_DATA = 3'd3,
    RX_REG_VALUE = 3'd4,
    RX_REG = 3'd5,
    RX_DRAIN = 3'd6;

reg  [2:0]  rx_state_reg = RX_HEADER, rx_state_next;
reg  [2:0]  rx_word_reg = 3'd0, rx_word_next;
reg  [31:0] hdr_reg [0:5];
// The datagram ended with its header word (no data followed).
reg         rx_ended_reg = 1'b0, rx_ended_next;

wire [15:0] rx_magic = hdr_reg[0][15:0];
wire [7:0]  rx_kind = hdr_reg[0][23:16];
wire [31:0] rx_tag = hdr_reg[1];
wire [15:0] rx_seq = hdr_reg[2][15:0];
wire [15:0] rx_len = hdr_reg[2][31:16];
wire [31:0] rx_total = hdr_reg[3];

// The job being reassembled.
reg         job_active_reg = 1'b0, job_active_next;
reg  [31:0] job_tag_reg = 32'd0, job_tag_next;
reg  [31:0] job_total_reg = 32'd0, job_total_next;
reg  [31:0] job_filled_reg = 32'd0, job_filled_next;
reg  [15:0] job_seq_reg = 16'd0, job_seq_next;
// The last job passed on (a late copy of it is dropped, not run twice).
reg         done_valid_reg = 1'b0;
reg  [31:0] done_tag_reg = 32'd0;

// The fragment being received: where its data goes and how many words it has.
reg  [31:0] frag_base_reg = 32'd0, frag_base_next;
reg  [15:0] frag_words_reg = 16'd0, frag_words_next;
reg  [15:0] frag_count_reg = 16'd0, frag_count_next;
reg         frag_bad_reg = 1'b0, frag_bad_next;
reg  [31:0] low_word_reg = 32'd0, low_word_next;

reg  [31:0] reply_ip_reg = 32'd0, reply_ip_next;
reg  [15:0] reply_port_reg = 16'd0, reply_port_next;

// A register operation: what, where, and its answer.
reg         reg_write_reg = 1'b0, reg_write_next;
reg  [31:0] reg_addr_reg = 32'd0, reg_addr_next;
reg  [31:0] reg_id_reg = 32'd0, reg_id_next;
reg  [31:0] reg_value_reg = 32'd0, reg_value_next;
reg         reg_start;
wire        reg_done;
wire [31:0] reg_read_value;
reg         reply_pending_reg = 1'b0;
reg         reply_sent;

reg         forward_busy_reg = 1'b0;
reg         forward_start;
reg         forward_done;

reg         buf_wr_en;
reg  [ADDR_WIDTH-1:0] buf_wr_addr;
reg  [63:0] buf_wr_data;

reg         count_datagram, count_drop, count_abandon;
reg         s_ready;

assign s_udp_ready = s_ready;
assign reply_ip = reply_ip_reg;
assign reply_port = reply_port_reg;

// Fragment checks in two steps, each from registers (one carry chain a cycle): RX_CHECK
// compares the header with the job in progress and computes where the fragment would end;
// RX_DECIDE compares that with the frame and decides.
wire [15:0] frag_words = (rx_len + 16'd3) >> 2;
// A fragment 0 starts a job unless it repeats the job in progress or the one just finished.
wire        check_start = rx_seq == 16'd0 && !(job_active_reg && rx_tag == job_tag_reg)
    && !(done_valid_reg && rx_tag == done_tag_reg);
wire [31:0] check_base = rx_seq == 16'd0 ? 32'd0 : job_filled_reg;

reg         frag_start_reg = 1'b0;
reg         frag_next_reg = 1'b0;
reg         frag_repeat_reg = 1'b0;
reg         frag_len_ok_reg = 1'b0;
reg         frag_aligned_reg = 1'b0;
reg         frag_total_ok_reg = 1'b0;
reg  [31:0] check_base_reg = 32'd0;
reg  [31:0] check_end_reg = 32'd0;
reg  [31:0] check_filled_reg = 32'd0;

always @(posedge clk) begin
    if (rx_state_reg == RX_CHECK) begin
        frag_start_reg <= check_start;
        frag_next_reg <= job_active_reg && rx_tag == job_tag_reg && rx_total == job_total_reg
            && rx_seq == job_seq_reg;
        frag_repeat_reg <= job_active_reg && rx_tag == job_tag_reg && rx_seq < job_seq_reg;
        frag_len_ok_reg <= rx_len != 16'd0 && rx_len <= FRAGMENT;
        frag_aligned_reg <= rx_len[2:0] == 3'd0;
        frag_total_ok_reg <= rx_total >= 32'd64 && rx_total <= MAX_FRAME;
        check_base_reg <= check_base;
        check_end_reg <= check_base + {16'd0, rx_len};
        check_filled_reg <= check_base + {14'd0, frag_words, 2'b00};
    end
end

wire        frag_final = check_end_reg == rx_total;
wire        frag_shape_ok = frag_len_ok_reg && frag_total_ok_reg && check_end_reg <= rx_total
    && (frag_final || frag_aligned_reg);
wire        frag_ok = !rx_ended_reg && frag_shape_ok && (frag_start_reg || frag_next_reg);
wire        frag_start = frag_start_reg;
wire        frag_repeat = frag_repeat_reg;
wire [31:0] frag_base = check_base_reg;
// Where the job stands once the fragment being received is in, and whether that completes
// it (registered when the fragment is accepted).
reg  [31:0] frag_filled_reg = 32'd0;
reg         frag_completes_reg = 1'b0;
always @(posedge clk) begin
    if (rx_state_reg == RX_DECIDE) begin
        frag_filled_reg <= check_filled_reg;
        frag_completes_reg <= check_filled_reg >= rx_total;
    end
end
wire [31:0] frag_filled = frag_filled_reg;

always @* begin
    rx_state_next = rx_state_reg;
    rx_word_next = rx_word_reg;
    rx_ended_next = rx_ended_reg;
    job_active_next = job_active_reg;
    job_tag_next = job_tag_reg;
    job_total_next = job_total_reg;
    job_filled_next = job_filled_reg;
    job_seq_next = job_seq_reg;
    frag_base_next = frag_base_reg;
    frag_words_next = frag_words_reg;
    frag_count_next = frag_count_reg;
    frag_bad_next = frag_bad_reg;
    low_word_next = low_word_reg;
    reply_ip_next = reply_ip_reg;
    reply_port_next = reply_port_reg;
    reg_write_next = reg_write_reg;
    reg_addr_next = reg_addr_reg;
    reg_id_next = reg_id_reg;
    reg_value_next = reg_value_reg;
    reg_start = 1'b0;
    forward_start = 1'b0;
    buf_wr_en = 1'b0;
    buf_wr_addr = frag_base_reg[ADDR_WIDTH+2:3] + frag_count_reg[ADDR_WIDTH:1];
    buf_wr_data = {s_udp_data, low_word_reg};
    count_datagram = 1'b0;
    count_drop = 1'b0;
    count_abandon = 1'b0;
    s_ready = 1'b0;

    case (rx_state_reg)
        RX_HEADER: begin
            // A finished job owns the buffer until it has gone to the accelerator.
            s_ready = !forward_busy_reg;
            if (s_udp_valid && s_ready) begin
                rx_word_next = rx_word_reg + 3'd1;
                if (rx_word_reg == LAST_HEADER_WORD) begin
                    rx_word_next = 3'd0;
                    rx_ended_next = s_udp_last;
                    rx_state_next = RX_CHECK;
                end else if (s_udp_last) begin
                    // Shorter than a header.
                    rx_word_next = 3'd0;
                    count_datagram = 1'b1;
                    count_drop = 1'b1;
                end
            end
        end
        RX_CHECK: begin
            rx_state_next = RX_DECIDE;
        end
        RX_DECIDE: begin
            count_datagram = 1'b1;
            rx_state_next = rx_ended_reg ? RX_HEADER : RX_DRAIN;
            frag_bad_next = 1'b0;
            if (rx_magic != UDP_MAGIC) begin
                count_drop = 1'b1;
            end else if (rx_kind == UDP_KIND_JOB) begin
                if (frag_ok) begin
                    if (frag_start && job_active_reg && job_filled_reg != 32'd0) begin
                        count_abandon = 1'b1;
                    end
                    job_active_next = 1'b1;
                    job_tag_next = rx_tag;
                    job_total_next = rx_total;
                    job_filled_next = frag_base;
                    job_seq_next = rx_seq;
                    frag_base_next = frag_base;
                    frag_words_next = frag_words;
                    frag_count_next = 16'd0;
                    reply_ip_next = hdr_reg[4];
                    reply_port_next = hdr_reg[5][15:0];
                    rx_state_next = RX_DATA;
                end else begin
                    count_drop = 1'b1;
                    if (!frag_repeat && job_active_reg) begin
                        // A gap or another job: the partial one can never complete.
                        job_active_next = 1'b0;
                        count_abandon = 1'b1;
                    end
                end
            end else if ((rx_kind == UDP_KIND_REG_READ || rx_kind == UDP_KIND_REG_WRITE)
                    && !(rx_kind == UDP_KIND_REG_WRITE && rx_ended_reg)) begin
                if (!reply_pending_reg) begin
                    reply_ip_next = hdr_reg[4];
                    reply_port_next = hdr_reg[5][15:0];
                    reg_write_next = rx_kind == UDP_KIND_REG_WRITE;
                    reg_addr_next = rx_total;
                    reg_id_next = rx_tag;
                    rx_state_next = rx_kind == UDP_KIND_REG_WRITE ? RX_REG_VALUE : RX_REG;
                end else begin
                    // The last answer has not left yet: wait for it.
                    count_datagram = 1'b0;
                    rx_state_next = RX_DECIDE;
                end
            end else begin
                count_drop = 1'b1;
            end
        end
        RX_DATA: begin
            s_ready = 1'b1;
            if (s_udp_valid) begin
                frag_count_next = frag_count_reg + 16'd1;
                if (s_udp_error) begin
                    frag_bad_next = 1'b1;
                end
                if (frag_count_reg < frag_words_reg) begin
                    if (!frag_count_reg[0]) begin
                        low_word_next = s_udp_data;
                        if (frag_count_reg + 16'd1 == frag_words_reg) begin
                            // The frame's last word, alone in its beat.
                            buf_wr_en = 1'b1;
                            buf_wr_data = {32'd0, s_udp_data};
                        end
                    end else begin
                        buf_wr_en = 1'b1;
                    end
                end
                if (s_udp_last) begin
                    rx_state_next = RX_HEADER;
                    if (frag_count_reg + 16'd1 < frag_words_reg || frag_bad_reg || s_udp_error) begin
                        // Short or damaged: the job cannot complete.
                        job_active_next = 1'b0;
                        count_abandon = 1'b1;
                    end else begin
                        job_filled_next = frag_filled;
                        job_seq_next = job_seq_reg + 16'd1;
                        if (frag_completes_reg) begin
                            job_active_next = 1'b0;
                            forward_start = 1'b1;
                        end
                    end
                end
            end
        end
        RX_REG_VALUE: begin
            s_ready = 1'b1;
            if (s_udp_valid) begin
                reg_value_next = s_udp_data;
                rx_ended_next = s_udp_last;
                rx_state_next = RX_REG;
            end
        end
        RX_REG: begin
            reg_start = 1'b1;
            if (reg_done) begin
                rx_state_next = rx_ended_reg ? RX_HEADER : RX_DRAIN;
                if (!reg_write_reg) begin
                    reg_value_next = reg_read_value;
                end
            end
        end
        RX_DRAIN: begin
            s_ready = 1'b1;
            if (s_udp_valid && s_udp_last) begin
                rx_state_next = RX_HEADER;
            end
        end
        default: begin
            rx_state_next = RX_HEADER;
        end
    endcase
end

integer h;
always @(posedge clk) begin
    rx_state_reg <= rx_state_next;
    rx_word_reg <= rx_word_next;
    rx_ended_reg <= rx_ended_next;
    job_active_reg <= job_active_next;
    job_tag_reg <= job_tag_next;
    job_total_reg <= job_total_next;
    job_filled_reg <= job_filled_next;
    job_seq_reg <= job_seq_next;
    frag_base_reg <= frag_base_next;
    frag_words_reg <= frag_words_next;
    frag_count_reg <= frag_count_next;
    frag_bad_reg <= frag_bad_next;
    low_word_reg <= low_word_next;
    reply_ip_reg <= reply_ip_next;
    reply_port_reg <= reply_port_next;
    reg_write_reg <= reg_write_next;
    reg_addr_reg <= reg_addr_next;
    reg_id_reg <= reg_id_next;
    reg_value_reg <= reg_value_next;

    if (rx_state_reg == RX_HEADER && s_udp_valid && s_ready) begin
        hdr_reg[rx_word_reg] <= s_udp_data;
    end
    if (rx_state_reg == RX_REG && reg_done) begin
        reply_pending_reg <= 1'b1;
    end
    if (reply_sent) begin
        reply_pending_reg <= 1'b0;
    end
    if (forward_start) begin
        forward_busy_reg <= 1'b1;
        done_valid_reg <= 1'b1;
        done_tag_reg <= job_tag_reg;
    end
    if (forward_done) begin
        forward_busy_reg <= 1'b0;
    end

    if (count_datagram) datagrams_reg <= datagrams_reg + 32'd1;
    if (count_drop) dropped_reg <= dropped_reg + 32'd1;
    if (count_abandon) abandoned_reg <= abandoned_reg + 32'd1;
    if (forward_start) jobs_reg <= jobs_reg + 32'd1;

    if (rst) begin
        rx_state_reg <= RX_HEADER;
        rx_word_reg <= 3'd0;
        job_active_reg <= 1'b0;
        done_valid_reg <= 1'b0;
        reply_pending_reg <= 1'b0;
        forward_busy_reg <= 1'b0;
        datagrams_reg <= 32'd0;
        dropped_reg <= 32'd0;
        abandoned_reg <= 32'd0;
        jobs_reg <= 32'd0;
        for (h = 0; h < 6; h = h + 1) begin
            hdr_reg[h] <= 32'd0;
        end
    end
end

/*
 * Job buffer and forwarding: the whole frame, once complete, to the accelerator
 */

wire [63:0] buf_rd_data;
reg         buf_rd_en;
reg  [ADDR_WIDTH-1:0] fwd_addr_reg = {ADDR_WIDTH{1'b0}}, fwd_addr_next;
// The beat whose word the RAM's read port holds, and whether it is still to be taken.
reg  [ADDR_WIDTH-1:0] fwd_beat_reg = {ADDR_WIDTH{1'b0}}, fwd_beat_next;
reg         fwd_valid_reg = 1'b0, fwd_valid_next;
reg         fwd_issued_all_reg = 1'b0, fwd_issued_all_next;

wire [31:0] fwd_last_wide = (job_total_reg - 32'd1) >> 3;
wire [ADDR_WIDTH-1:0] fwd_last = fwd_last_wide[ADDR_WIDTH-1:0];
wire [2:0]  fwd_tail = job_total_reg[2:0];
wire        fwd_at_last = fwd_beat_reg == fwd_last;

reg [KEEP_WIDTH-1:0] fwd_tail_keep;
integer k;
always @* begin
    for (k = 0; k < KEEP_WIDTH; k = k + 1) begin
        fwd_tail_keep[k] = fwd_tail == 3'd0 || k < fwd_tail;
    end
end

ram_sdp #(
    .WIDTH(64),
    .DEPTH(BUFFER_WORDS)
)
job_buffer (
    .clk(clk),
    .wr_en(buf_wr_en),
    .wr_addr(buf_wr_addr),
    .wr_data(buf_wr_data),
    .rd_en(buf_rd_en),
    .rd_addr(fwd_addr_reg),
    .rd_data(buf_rd_data)
);

assign m_axis_tdata = buf_rd_data;
assign m_axis_tkeep = fwd_at_last ? fwd_tail_keep : {KEEP_WIDTH{1'b1}};
assign m_axis_tvalid = fwd_valid_reg;
assign m_axis_tlast = fwd_at_last;

always @* begin
    fwd_addr_next = fwd_addr_reg;
    fwd_beat_next = fwd_beat_reg;
    fwd_valid_next = fwd_valid_reg;
    fwd_issued_all_next = fwd_issued_all_reg;
    buf_rd_en = 1'b0;
    forward_done = 1'b0;

    if (fwd_valid_reg && m_axis_tready) begin
        fwd_valid_next = 1'b0;
        if (fwd_at_last) begin
            forward_done = 1'b1;
        end
    end
    // Read the next word when the read port's word is free (or being taken now).
    if (forward_busy_reg && !fwd_issued_all_reg && (!fwd_valid_reg || m_axis_tready)) begin
        buf_rd_en = 1'b1;
        fwd_valid_next = 1'b1;
        fwd_beat_next = fwd_addr_reg;
        fwd_addr_next = fwd_addr_reg + 1'b1;
        if (fwd_addr_reg == fwd_last) begin
            fwd_issued_all_next = 1'b1;
        end
    end
    if (forward_done) begin
        fwd_addr_next = {ADDR_WIDTH{1'b0}};
        fwd_issued_all_next = 1'b0;
    end
end

always @(posedge clk) begin
    fwd_addr_reg <= fwd_addr_next;
    fwd_beat_reg <= fwd_beat_next;
    fwd_valid_reg <= fwd_valid_next;
    fwd_issued_all_reg <= fwd_issued_all_next;
    if (rst) begin
        fwd_addr_reg <= {ADDR_WIDTH{1'b0}};
        fwd_valid_reg <= 1'b0;
        fwd_issued_all_reg <= 1'b0;
    end
end

/*
 * Register operations: one AXI4-Lite transaction, or a bridge counter
 */

localparam [2:0]
    AXIL_IDLE = 3'd0,
    AXIL_WRITE = 3'd1,
    AXIL_WRITE_RESP = 3'd2,
    AXIL_READ = 3'd3,
    AXIL_READ_RESP = 3'd4,
    AXIL_DONE = 3'd5;

reg  [2:0]  axil_state_reg = AXIL_IDLE, axil_state_next;
reg  [31:0] axil_value_reg = 32'd0, axil_value_next;
reg         aw_done_reg = 1'b0, aw_done_next;
reg         w_done_reg = 1'b0, w_done_next;

wire        reg_local = reg_addr_reg[31:12] != 20'd0;
reg  [31:0] local_value;
always @* begin
    case (reg_addr_reg[15:0])
        BRIDGE_REG_DATAGRAMS: local_value = datagrams_reg;
        BRIDGE_REG_DROPPED: local_value = dropped_reg;
        BRIDGE_REG_ABANDONED: local_value = abandoned_reg;
        BRIDGE_REG_JOBS: local_value = jobs_reg;
        BRIDGE_REG_RESULTS: local_value = results_reg;
        default: local_value = 32'd0;
    endcase
end

assign m_axil_awaddr = reg_addr_reg[11:0];
assign m_axil_awprot = 3'b000;
assign m_axil_awvalid = axil_state_reg == AXIL_WRITE && !aw_done_reg;
assign m_axil_wdata = reg_value_reg;
assign m_axil_wstrb = 4'hF;
assign m_axil_wvalid = axil_state_reg == AXIL_WRITE && !w_done_reg;
assign m_axil_bready = axil_state_reg == AXIL_WRITE_RESP;
assign m_axil_araddr = reg_addr_reg[11:0];
assign m_axil_arprot = 3'b000;
assign m_axil_arvalid = axil_state_reg == AXIL_READ;
assign m_axil_rready = axil_state_reg == AXIL_READ_RESP;

assign reg_done = axil_state_reg == AXIL_DONE;
assign reg_read_value = axil_value_reg;

always @* begin
    axil_state_next = axil_state_reg;
    axil_value_next = axil_value_reg;
    aw_done_next = aw_done_reg;
    w_done_next = w_done_reg;

    case (axil_state_reg)
        AXIL_IDLE: begin
            aw_done_next = 1'b0;
            w_done_next = 1'b0;
            if (reg_start) begin
                if (reg_local) begin
                    // Bridge counters are read-only; a write to them is acknowledged.
                    axil_value_next = local_value;
                    axil_state_next = AXIL_DONE;
                end else begin
                    axil_state_next = reg_write_reg ? AXIL_WRITE : AXIL_READ;
                end
            end
        end
        AXIL_WRITE: begin
            if (m_axil_awready) aw_done_next = 1'b1;
            if (m_axil_wready) w_done_next = 1'b1;
            if ((aw_done_reg || m_axil_awready) && (w_done_reg || m_axil_wready)) begin
                axil_state_next = AXIL_WRITE_RESP;
            end
        end
        AXIL_WRITE_RESP: begin
            if (m_axil_bvalid) axil_state_next = AXIL_DONE;
        end
        AXIL_READ: begin
            if (m_axil_arready) axil_state_next = AXIL_READ_RESP;
        end
        AXIL_READ_RESP: begin
            if (m_axil_rvalid) begin
                axil_value_next = m_axil_rdata;
                axil_state_next = AXIL_DONE;
            end
        end
        AXIL_DONE: begin
            axil_state_next = AXIL_IDLE;
        end
        default: begin
            axil_state_next = AXIL_IDLE;
        end
    endcase
end

always @(posedge clk) begin
    axil_state_reg <= axil_state_next;
    axil_value_reg <= axil_value_next;
    aw_done_reg <= aw_done_next;
    w_done_reg <= w_done_next;
    if (rst) begin
        axil_state_reg <= AXIL_IDLE;
    end
end

/*
 * Send: result frames in fragments, and register answers
 */

localparam [2:0]
    TX_IDLE = 3'd0,
    TX_CAPTURE = 3'd1,
    TX_HEADER = 3'd2,
    TX_DATA = 3'd3,
    TX_REPLY = 3'd4;

reg  [2:0]  tx_state_reg = TX_IDLE, tx_state_next;
// The result header's eight beats, kept to send inside the first fragment.
reg  [63:0] res_hdr_reg [0:7];
reg  [3:0]  res_beat_reg = 4'd0, res_beat_next;
reg  [31:0] res_total_reg = 32'd0, res_total_next;
reg  [31:0] frag_off_reg = 32'd0, frag_off_next;
reg  [15:0] tx_seq_reg = 16'd0, tx_seq_next;
reg  [15:0] tx_word_reg = 16'd0, tx_word_next;
reg  [31:0] tx_data;
reg         tx_valid, tx_last, res_ready, count_result;

wire [31:0] res_tag = res_hdr_reg[0][63:32];
wire [31:0] res_out_len = res_hdr_reg[1][31:0];
wire [31:0] frag_left = res_total_reg - frag_off_reg;
wire        frag_last = frag_left <= {16'd0, FRAGMENT};
wire [15:0] frag_len = frag_last ? frag_left[15:0] : FRAGMENT;
// The fragment being sent, worked out while its header goes (six cycles) and then counted
// down word by word, so sending compares registers only.
reg  [15:0] tx_len_reg = 16'd0;
reg         tx_final_reg = 1'b0;
reg  [15:0] tx_words_left_reg = 16'd0;
reg  [31:0] tx_byte_reg = 32'd0;
reg  [31:0] tx_left_reg = 32'd0;
wire [15:0] tx_len = tx_len_reg;
// The frame byte the data word being sent starts at.
wire [31:0] tx_byte = tx_byte_reg;
wire [63:0] tx_hdr_beat = res_hdr_reg[tx_byte[5:3]];
wire [15:0] reply_len = reg_write_reg ? 16'd0 : 16'd4;

reg [31:0] header_word;
always @* begin
    case (tx_word_reg[2:0])
        3'd0: header_word = {8'd0, tx_state_reg == TX_REPLY
            ? (reg_write_reg ? UDP_KIND_REG_DONE : UDP_KIND_REG_VALUE) : UDP_KIND_RESULT, UDP_MAGIC};
        3'd1: header_word = tx_state_reg == TX_REPLY ? reg_id_reg : res_tag;
        3'd2: header_word = tx_state_reg == TX_REPLY ? {reply_len, 16'd0} : {tx_len, tx_seq_reg};
        3'd3: header_word = tx_state_reg == TX_REPLY ? reg_addr_reg : res_total_reg;
        default: header_word = 32'd0;
    endcase
end

assign m_udp_data = tx_data;
assign m_udp_valid = tx_valid;
assign m_udp_last = tx_last;
assign s_axis_tready = res_ready;

always @* begin
    tx_state_next = tx_state_reg;
    res_beat_next = res_beat_reg;
    res_total_next = res_total_reg;
    frag_off_next = frag_off_reg;
    tx_seq_next = tx_seq_reg;
    tx_word_next = tx_word_reg;
    tx_data = header_word;
    tx_valid = 1'b0;
    tx_last = 1'b0;
    res_ready = 1'b0;
    reply_sent = 1'b0;
    count_result = 1'b0;

    case (tx_state_reg)
        TX_IDLE: begin
            res_beat_next = 4'd0;
            tx_word_next = 16'd0;
            if (s_axis_tvalid) begin
                tx_state_next = TX_CAPTURE;
            end else if (reply_pending_reg) begin
                tx_state_next = TX_REPLY;
            end
        end
        TX_CAPTURE: begin
            res_ready = 1'b1;
            if (s_axis_tvalid) begin
                res_beat_next = res_beat_reg + 4'd1;
                if (res_beat_reg == 4'd7) begin
                    // The output length is in beat 1, captured by now.
                    res_total_next = 32'd64 + res_out_len;
                    tx_state_next = TX_HEADER;
                end
            end
        end
        TX_HEADER: begin
            tx_valid = 1'b1;
            if (m_udp_ready) begin
                tx_word_next = tx_word_reg + 16'd1;
                if (tx_word_reg[2:0] == LAST_HEADER_WORD) begin
                    tx_word_next = 16'd0;
                    tx_state_next = TX_DATA;
                end
            end
        end
        TX_DATA: begin
            tx_last = tx_words_left_reg == 16'd1;
            if (tx_byte[31:6] == 26'd0) begin
                tx_data = tx_byte[2] ? tx_hdr_beat[63:32] : tx_hdr_beat[31:0];
                tx_valid = 1'b1;
            end else begin
                tx_data = tx_byte[2] ? s_axis_tdata[63:32] : s_axis_tdata[31:0];
                tx_valid = s_axis_tvalid;
                // Take the beat with its upper word, or with its lower one when the frame
                // ends there.
                res_ready = m_udp_ready && (tx_byte[2] || tx_left_reg <= 32'd4);
            end
            if (tx_valid && m_udp_ready) begin
                tx_word_next = tx_word_reg + 16'd1;
                if (tx_last) begin
                    tx_word_next = 16'd0;
                    frag_off_next = frag_off_reg + {16'd0, tx_len};
                    tx_seq_next = tx_seq_reg + 16'd1;
                    if (tx_final_reg) begin
                        count_result = 1'b1;
                        frag_off_next = 32'd0;
                        tx_seq_next = 16'd0;
                        tx_state_next = TX_IDLE;
                    end else begin
                        tx_state_next = TX_HEADER;
                    end
                end
            end
        end
        TX_REPLY: begin
            tx_valid = 1'b1;
            if (tx_word_reg == 16'd6) begin
                tx_data = reg_value_reg;
            end
            tx_last = tx_word_reg == (reg_write_reg ? 16'd5 : 16'd6);
            if (m_udp_ready) begin
                tx_word_next = tx_word_reg + 16'd1;
                if (tx_last) begin
                    reply_sent = 1'b1;
                    tx_word_next = 16'd0;
                    tx_state_next = TX_IDLE;
                end
            end
        end
        default: begin
            tx_state_next = TX_IDLE;
        end
    endcase
end

integer b;
always @(posedge clk) begin
    tx_state_reg <= tx_state_next;
    res_beat_reg <= res_beat_next;
    res_total_reg <= res_total_next;
    frag_off_reg <= frag_off_next;
    tx_seq_reg <= tx_seq_next;
    tx_word_reg <= tx_word_next;
    if (tx_state_reg == TX_CAPTURE && s_axis_tvalid) begin
        res_hdr_reg[res_beat_reg[2:0]] <= s_axis_tdata;
    end
    if (tx_state_reg == TX_HEADER) begin
        tx_len_reg <= frag_len;
        tx_final_reg <= frag_last;
        tx_words_left_reg <= (frag_len + 16'd3) >> 2;
        tx_byte_reg <= frag_off_reg;
        tx_left_reg <= frag_left;
    end else if (tx_state_reg == TX_DATA && tx_valid && m_udp_ready) begin
        tx_words_left_reg <= tx_words_left_reg - 16'd1;
        tx_byte_reg <= tx_byte_reg + 32'd4;
        tx_left_reg <= tx_left_reg - 32'd4;
    end
    if (count_result) results_reg <= results_reg + 32'd1;
    if (rst) begin
        tx_state_reg <= TX_IDLE;
        frag_off_reg <= 32'd0;
        tx_seq_reg <= 16'd0;
        tx_word_reg <= 16'd0;
        results_reg <= 32'd0;
        for (b = 0; b < 8; b = b + 1) begin
            res_hdr_reg[b] <= 64'd0;
        end
    end
end

// Response codes are always OKAY from the accelerator; result beats end where the header's
// length says (tkeep and tlast agree with it); the reply port's upper bits are reserved.
wire unused = &{1'b0, m_axil_bresp, m_axil_rresp, s_axis_tkeep, s_axis_tlast,
    hdr_reg[5][31:16], fwd_last_wide[31:ADDR_WIDTH], tx_byte[1:0]};

endmodule

`resetall
`default_nettype wire
