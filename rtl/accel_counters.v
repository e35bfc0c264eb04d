/*
 * lzcache — CacheAccelerator counters
 *
 * What the register block reports about traffic: jobs and payload bytes in, results and
 * output bytes out, results by error kind, and the latest error with its tag.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Event counters of cache_accelerator. A job is counted when the dispatcher takes its header
// (run or answered with an error), a result when its header's last beat leaves. A result
// whose checksum did not match counts as a CRC error and is the latest error as
// RES_MALFORMED when its status is RES_OK (the host sees crc_valid clear). Counters wrap;
// the host reads differences.
module accel_counters
(
    input  wire        clk,
    // Cleared by reset and by the accelerator's soft reset
    input  wire        rst,

    /*
     * Events
     */
    input  wire        job_in,
    input  wire [31:0] job_in_bytes,
    input  wire        result_out,
    input  wire [31:0] result_bytes,
    input  wire [7:0]  result_status,
    input  wire        result_crc_valid,
    input  wire [31:0] result_tag,

    /*
     * Counts
     */
    output wire [31:0] jobs_in,
    output wire [31:0] jobs_out,
    output wire [63:0] bytes_in,
    output wire [63:0] bytes_out,
    output wire [31:0] err_opcode,
    output wire [31:0] err_length,
    output wire [31:0] err_malformed,
    output wire [31:0] err_crc,
    output wire [31:0] incompressible,
    output wire [7:0]  last_error,
    output wire [31:0] last_error_tag
);

/* verilator lint_off UNUSEDPARAM */
`include "cache_accelerator_defs.vh"
/* verilator lint_on UNUSEDPARAM */

reg [31:0] jobs_in_reg = 32'd0;
reg [31:0] jobs_out_reg = 32'd0;
reg [63:0] bytes_in_reg = 64'd0;
reg [63:0] bytes_out_reg = 64'd0;
reg [31:0] err_opcode_reg = 32'd0;
reg [31:0] err_length_reg = 32'd0;
reg [31:0] err_malformed_reg = 32'd0;
reg [31:0] err_crc_reg = 32'd0;
reg [31:0] incompressible_reg = 32'd0;
reg [7:0]  last_error_reg = 8'd0;
reg [31:0] last_error_tag_reg = 32'd0;

assign jobs_in = jobs_in_reg;
assign jobs_out = jobs_out_reg;
assign bytes_in = bytes_in_reg;
assign bytes_out = bytes_out_reg;
assign err_opcode = err_opcode_reg;
assign err_length = err_length_reg;
assign err_malformed = err_malformed_reg;
assign err_crc = err_crc_reg;
assign incompressible = incompressible_reg;
assign last_error = last_error_reg;
assign last_error_tag = last_error_tag_reg;

always @(posedge clk) begin
    if (job_in) begin
        jobs_in_reg <= jobs_in_reg + 32'd1;
        bytes_in_reg <= bytes_in_reg + {32'd0, job_in_bytes};
    end
    if (result_out) begin
        jobs_out_reg <= jobs_out_reg + 32'd1;
        bytes_out_reg <= bytes_out_reg + {32'd0, result_bytes};
        case (result_status)
            RES_BAD_OPCODE: err_opcode_reg <= err_opcode_reg + 32'd1;
            RES_TOO_LARGE: err_length_reg <= err_length_reg + 32'd1;
            RES_MALFORMED, RES_LENGTH, RES_NO_DICT, RES_BAD_DICT:
                err_malformed_reg <= err_malformed_reg + 32'd1;
            RES_INCOMPRESSIBLE: incompressible_reg <= incompressible_reg + 32'd1;
            default: begin
                if (!result_crc_valid) begin
                    err_crc_reg <= err_crc_reg + 32'd1;
                end
            end
        endcase
        if ((result_status != RES_OK && result_status != RES_INCOMPRESSIBLE)
                || !result_crc_valid) begin
            last_error_reg <= result_status == RES_OK ? RES_MALFORMED : result_status;
            last_error_tag_reg <= result_tag;
        end
    end

    if (rst) begin
        jobs_in_reg <= 32'd0;
        jobs_out_reg <= 32'd0;
        bytes_in_reg <= 64'd0;
        bytes_out_reg <= 64'd0;
        err_opcode_reg <= 32'd0;
        err_length_reg <= 32'd0;
        err_malformed_reg <= 32'd0;
        err_crc_reg <= 32'd0;
        incompressible_reg <= 32'd0;
        last_error_reg <= 8'd0;
        last_error_tag_reg <= 32'd0;
    end
end

endmodule

`resetall
`default_nettype wire
