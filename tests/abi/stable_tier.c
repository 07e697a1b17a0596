/*
 * stable_tier.c — the public header without VQR_EXPERIMENTAL declares the stable tier only. Each
 * name of the experimental tier is declared here as a file-scope object of its own; had the
 * header declared that name already, this file would not compile ("redeclared as a different
 * kind of symbol"), so building it is the check. It also proves the stable tier is ISO C11 on its
 * own (-pedantic -Werror). Not linked to the library: sizeof does not evaluate its operand, and
 * main only touches the probes.
 */
#ifdef VQR_EXPERIMENTAL
#error "this check must be compiled without VQR_EXPERIMENTAL"
#endif
#include <vqround/vqround.h>

#include <stdio.h>

/* Types and enumerators of the experimental tier. */
static int vqr_sequences, vqr_sampling, vqr_layer_info, vqr_format, vqr_quantize_stats, vqr_distill_stats;
static int VQR_SAMPLE_PARAGRAPHS, VQR_SAMPLE_WINDOWS, VQR_SAMPLE_RANDOM_WINDOWS;
static int VQR_FORMAT_NATIVE, VQR_FORMAT_HUGGINGFACE, VQR_FORMAT_LLAMA2C, VQR_FORMAT_GPTQ,
    VQR_FORMAT_COMPRESSED_TENSORS, VQR_FORMAT_GGUF;
/* Its functions. */
static int vqr_sequences_from_text, vqr_sequences_from_ids, vqr_sequences_from_file, vqr_sequences_free,
    vqr_sequences_count, vqr_sequences_tokens, vqr_sequences_lengths, vqr_sequences_total_tokens;
static int vqr_model_override_int, vqr_model_override_float, vqr_model_skip_layers, vqr_model_clear_overrides,
    vqr_model_layer_info, vqr_model_set_metadata, vqr_model_linear_count, vqr_model_linear,
    vqr_model_collect_hessians, vqr_model_export, vqr_format_name, vqr_model_set_calibration,
    vqr_model_quantize_stats, vqr_model_set_distill_files, vqr_model_distill_stats, vqr_model_distill_eval,
    vqr_model_distill_loss;

int main(void) {
  const int probes = vqr_sequences + vqr_sampling + vqr_layer_info + vqr_format + VQR_SAMPLE_PARAGRAPHS +
                     VQR_SAMPLE_WINDOWS + VQR_SAMPLE_RANDOM_WINDOWS + VQR_FORMAT_NATIVE + VQR_FORMAT_HUGGINGFACE +
                     VQR_FORMAT_LLAMA2C + VQR_FORMAT_GPTQ + VQR_FORMAT_COMPRESSED_TENSORS + VQR_FORMAT_GGUF +
                     vqr_sequences_from_text + vqr_sequences_from_ids + vqr_sequences_from_file +
                     vqr_sequences_free + vqr_sequences_count + vqr_sequences_tokens + vqr_sequences_lengths +
                     vqr_sequences_total_tokens + vqr_model_override_int + vqr_model_override_float +
                     vqr_model_skip_layers + vqr_model_clear_overrides + vqr_model_layer_info +
                     vqr_model_set_metadata + vqr_model_linear_count + vqr_model_linear +
                     vqr_model_collect_hessians + vqr_model_export + vqr_format_name + vqr_quantize_stats +
                     vqr_model_set_calibration + vqr_model_quantize_stats + vqr_distill_stats +
                     vqr_model_set_distill_files + vqr_model_distill_stats + vqr_model_distill_eval +
                     vqr_model_distill_loss;
  /* The stable model entries stay visible. */
  const size_t stable = sizeof(&vqr_model_load) + sizeof(&vqr_model_quantize) + sizeof(&vqr_model_layer_report) +
                        sizeof(vqr_model_info) + sizeof(vqr_bounds) + sizeof(vqr_packed_shape) +
                        sizeof(&vqr_method_info) + sizeof(vqr_method_facts);
  printf("stable tier alone: %d experimental names free, %zu bytes of stable probes\n", probes, stable);
  return probes == 0 && stable > 0 ? 0 : 1;
}
