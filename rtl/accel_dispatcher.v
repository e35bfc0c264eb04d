/*
 * lzcache — CacheAccelerator dispatcher
 *
 * Takes each job's header, picks the result slot (engine) that runs it, and streams the
 * payload to it — or answers the job with an error and discards its payload.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Slots 0..N_COMPRESS-1 are the compress engines, then the decompress engines, then the
// checksum unit. A job goes to the first free slot of its kind; a compress or decompress job
// naming a dictionary goes only to an engine of its kind holding that dictionary (waiting
// while those are busy), and a load only to the engine it names. The dispatcher waits while
// no slot can take the job (the job stream stalls: backpressure to the host).
//
// A job that cannot run at all — bad magic or opcode, lengths over MAX_JOB_BYTES, a load
// naming no engine or id 0, a dictionary no engine holds — becomes the error path's one
// pending result (the result sender sends and releases it); a second such job waits for it.
//
// The job's parameters ride on tuser of the engine's first beat (lz4_dec_status.vh; the
// compressor reads the same two flag bits); a job without payload still gives its engine an
// empty frame.
module accel_dispatcher #
(
    // Width of the job stream in bits (64..512, dividing 512)
    parameter DATA_WIDTH = 512,
    // Width of tkeep
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Engines of each kind
    parameter N_COMPRESS = 2,
    parameter N_DECOMPRESS = 2,
    // Largest job input and output in bytes
    parameter MAX_JOB_BYTES = 1048576
)
(
    input  wire                               clk,
    // Reset or the accelerator's soft reset
    input  wire                               rst,
    // Jobs are taken only while enabled (the register block's CONTROL)
    input  wire                               enable,

    /*
     * Jobs, from the input register
     */
    input  wire [DATA_WIDTH-1:0]              job_tdata,
    input  wire [KEEP_WIDTH-1:0]              job_tkeep,
    input  wire                               job_tvalid,
    output wire                               job_tready,
    input  wire                               job_tlast,

    /*
     * The slots' state: busy, and each engine's dictionary id (0: none)
     */
    input  wire [N_COMPRESS+N_DECOMPRESS:0]        slot_busy,
    input  wire [(N_COMPRESS+N_DECOMPRESS+1)*32-1:0] slot_dict_id,

    /*
     * Payload to the slots: valid per slot, the rest shared (tdata is the job stream's)
     */
    output reg  [N_COMPRESS+N_DECOMPRESS:0]   engine_in_valid,
    input  wire [N_COMPRESS+N_DECOMPRESS:0]   engine_in_ready,
    output reg  [KEEP_WIDTH-1:0]              engine_in_keep,
    output reg                                engine_in_last,
    output wire [127:0]                       engine_in_user,

    /*
     * A job dispatched: its slot, tag, and for a load the dictionary id the engine gets
     */
    output reg                                accept,
    output wire [$clog2(N_COMPRESS+N_DECOMPRESS+2)-1:0] accept_slot,
    output wire [31:0]                        accept_tag,
    output wire                               accept_is_load,
    output wire [31:0]                        accept_dict_id,

    /*
     * A job taken (dispatched or refused) and its declared input bytes, for the counters
     */
    output wire                               job_in,
    output wire [31:0]                        job_in_bytes,

    /*
     * The error path's pending result, released by the result sender
     */
    output wire                               error_pending,
    output wire [7:0]                         error_status,
    output wire [7:0]                         error_opcode,
    output wire [31:0]                        error_tag,
    input  wire                               error_release
);

/* verilator lint_off UNUSEDPARAM */
`include "cache_accelerator_defs.vh"
/* verilator lint_on UNUSEDPARAM */

localparam N_ENGINES = N_COMPRESS + N_DECOMPRESS;
localparam N_SLOTS = N_ENGINES + 1;
localparam CHECKSUM_SLOT = N_ENGINES;
// Result sources: the slots, then the error path.
localparam SOURCE_WIDTH = $clog2(N_SLOTS + 1);
localparam HEADER_BEATS = 512 / DATA_WIDTH;

localparam [2:0]
    DISPATCH_HEADER = 3'd0,
    DISPATCH_PAYLOAD = 3'd1,
    DISPATCH_EMPTY = 3'd2,
    DISPATCH_DRAIN = 3'd3;

/*
 * The header
 */

reg         header_gather;
reg         header_take;
wire        header_gathered;
wire        header_valid;
wire        header_last;
wire [7:0]  hdr_opcode;
wire [31:0] hdr_tag;
wire [31:0] hdr_input_len;
wire [31:0] hdr_raw_len;
wire [63:0] hdr_crc;
wire [31:0] hdr_dict_id;
wire [7:0]  hdr_engine;
wire        hdr_known;
wire        hdr_too_large;
wire        hdr_is_load;
wire        hdr_uses_dict;
wire        hdr_bad_load;
wire        hdr_load_compress;

accel_job_header #(
    .DATA_WIDTH(DATA_WIDTH),
    .N_COMPRESS(N_COMPRESS),
    .N_DECOMPRESS(N_DECOMPRESS),
    .MAX_JOB_BYTES(MAX_JOB_BYTES)
)
header (
    .clk(clk),
    .rst(rst),
    .job_tdata(job_tdata),
    .job_tvalid(job_tvalid),
    .job_tlast(job_tlast),
    .gather(header_gather),
    .take(header_take),
    .gathered(header_gathered),
    .valid(header_valid),
    .last(header_last),
    .opcode(hdr_opcode),
    .tag(hdr_tag),
    .input_len(hdr_input_len),
    .raw_len(hdr_raw_len),
    .crc(hdr_crc),
    .dict_id(hdr_dict_id),
    .engine(hdr_engine),
    .known(hdr_known),
    .too_large(hdr_too_large),
    .is_load(hdr_is_load),
    .uses_dict(hdr_uses_dict),
    .bad_load(hdr_bad_load),
    .load_compress(hdr_load_compress)
);

/*
 * The slot for the header's job
 */

// The first free slot that can run the header's job, and whether any engine (free or not)
// holds the dictionary it names.
reg                    target_found;
reg [SOURCE_WIDTH-1:0] target;
reg                    dict_held;
integer t;
always @* begin
    target_found = 1'b0;
    target = {SOURCE_WIDTH{1'b0}};
    dict_held = 1'b0;
    for (t = N_SLOTS - 1; t >= 0; t = t - 1) begin
        if (slot_dict_id[t*32 +: 32] == hdr_dict_id
                && ((t < N_COMPRESS && hdr_opcode == OP_COMPRESS)
                    || (t >= N_COMPRESS && t < N_ENGINES && hdr_opcode == OP_DECOMPRESS))) begin
            dict_held = 1'b1;
        end
        if (!slot_busy[t]
                && ((t < N_COMPRESS && hdr_opcode == OP_COMPRESS
                        && (!hdr_uses_dict || slot_dict_id[t*32 +: 32] == hdr_dict_id))
                    || (t >= N_COMPRESS && t < N_ENGINES && hdr_opcode == OP_DECOMPRESS
                        && (!hdr_uses_dict || slot_dict_id[t*32 +: 32] == hdr_dict_id))
                    || (t < N_COMPRESS && hdr_is_load && hdr_load_compress
                        && t == {24'd0, hdr_engine})
                    || (t >= N_COMPRESS && t < N_ENGINES && hdr_is_load && !hdr_load_compress
                        && t - N_COMPRESS == {24'd0, hdr_engine})
                    || (t == CHECKSUM_SLOT && hdr_opcode == OP_CHECKSUM))) begin
            target_found = 1'b1;
            target = t[SOURCE_WIDTH-1:0];
        end
    end
end

/*
 * The dispatch state machine
 */

reg [2:0]              state_reg = DISPATCH_HEADER, state_next;
reg [SOURCE_WIDTH-1:0] route_reg = {SOURCE_WIDTH{1'b0}}, route_next;
reg [97:0]             route_user_reg = 98'd0, route_user_next;
reg                    route_first_reg = 1'b0, route_first_next;

reg                    accept_error;
reg [7:0]              accept_error_status;

reg                    error_pending_reg = 1'b0;
reg [7:0]              error_status_reg = 8'd0;
reg [7:0]              error_opcode_reg = 8'd0;
reg [31:0]             error_tag_reg = 32'd0;

assign error_pending = error_pending_reg;
assign error_status = error_status_reg;
assign error_opcode = error_opcode_reg;
assign error_tag = error_tag_reg;
reg                    s_ready;

assign job_tready = s_ready;

always @* begin
    state_next = state_reg;
    route_next = route_reg;
    route_user_next = route_user_reg;
    route_first_next = route_first_reg;
    accept = 1'b0;
    header_take = 1'b0;
    header_gather = 1'b0;
    accept_error = 1'b0;
    accept_error_status = RES_OK;
    s_ready = 1'b0;
    engine_in_valid = {N_SLOTS{1'b0}};
    engine_in_keep = job_tkeep;
    engine_in_last = job_tlast;

    case (state_reg)
        DISPATCH_HEADER: begin
            if (HEADER_BEATS > 1 && !header_gathered) begin
                // Gather the header's beats.
                s_ready = 1'b1;
                header_gather = job_tvalid;
            end else if (header_valid && enable) begin
                if (!hdr_known || hdr_too_large || hdr_bad_load || (hdr_uses_dict && !dict_held)) begin
                    if (!error_pending_reg) begin
                        s_ready = HEADER_BEATS == 1;
                        header_take = 1'b1;
                        accept_error = 1'b1;
                        accept_error_status = !hdr_known ? RES_BAD_OPCODE
                            : hdr_too_large ? RES_TOO_LARGE
                            : hdr_bad_load ? RES_BAD_DICT : RES_NO_DICT;
                        state_next = header_last ? DISPATCH_HEADER : DISPATCH_DRAIN;
                    end
                end else if (target_found) begin
                    s_ready = HEADER_BEATS == 1;
                    header_take = 1'b1;
                    accept = 1'b1;
                    route_next = target;
                    // lz4_decompress's job fields (lz4_dec_status.vh; lz4_compress reads the
                    // same two flag bits); a load declares the payload's length as the
                    // dictionary's.
                    route_user_next = {hdr_is_load, hdr_uses_dict,
                        hdr_is_load ? hdr_input_len : hdr_raw_len, hdr_crc};
                    route_first_next = 1'b1;
                    state_next = header_last ? DISPATCH_EMPTY : DISPATCH_PAYLOAD;
                end
            end
        end
        DISPATCH_PAYLOAD: begin
            engine_in_valid[route_reg] = job_tvalid;
            s_ready = engine_in_ready[route_reg];
            if (job_tvalid && s_ready) begin
                route_first_next = 1'b0;
                if (job_tlast) begin
                    state_next = DISPATCH_HEADER;
                end
            end
        end
        DISPATCH_EMPTY: begin
            // A job without payload: the engine still gets its (empty) frame.
            engine_in_valid[route_reg] = 1'b1;
            engine_in_keep = {KEEP_WIDTH{1'b0}};
            engine_in_last = 1'b1;
            if (engine_in_ready[route_reg]) begin
                state_next = DISPATCH_HEADER;
            end
        end
        DISPATCH_DRAIN: begin
            s_ready = 1'b1;
            if (job_tvalid && job_tlast) begin
                state_next = DISPATCH_HEADER;
            end
        end
        default: begin
            state_next = DISPATCH_HEADER;
        end
    endcase
end

assign engine_in_user = route_first_reg ? {30'd0, route_user_reg} : 128'd0;

assign accept_slot = route_next;
assign accept_tag = hdr_tag;
assign accept_is_load = hdr_is_load;
assign accept_dict_id = hdr_dict_id;
assign job_in = accept || accept_error;
assign job_in_bytes = hdr_input_len;

always @(posedge clk) begin
    state_reg <= state_next;
    route_reg <= route_next;
    route_user_reg <= route_user_next;
    route_first_reg <= route_first_next;

    if (accept_error) begin
        error_pending_reg <= 1'b1;
        error_status_reg <= accept_error_status;
        error_opcode_reg <= hdr_opcode;
        error_tag_reg <= hdr_tag;
    end
    if (error_release) begin
        error_pending_reg <= 1'b0;
    end

    if (rst) begin
        state_reg <= DISPATCH_HEADER;
        error_pending_reg <= 1'b0;
    end
end

endmodule

`resetall
`default_nettype wire
