/** adapter_config.json contents as PEFT writes them, for the PEFT format tests and the fuzz seeds. */
export const LORA_CONFIG = {
  peft_type: 'LORA',
  task_type: 'CAUSAL_LM',
  r: 4,
  lora_alpha: 8,
  lora_dropout: 0.0,
  target_modules: ['q_proj', 'v_proj'],
  bias: 'none',
  fan_in_fan_out: false,
  use_rslora: false,
  use_dora: false,
  init_lora_weights: true,
  base_model_name_or_path: null,
  modules_to_save: null,
  inference_mode: false,
};

export const VERA_CONFIG = {
  peft_type: 'VERA',
  task_type: 'CAUSAL_LM',
  r: 8,
  target_modules: ['c_attn', 'c_proj'],
  projection_prng_key: 0,
  save_projection: true,
  vera_dropout: 0.0,
  d_initial: 0.1,
  bias: 'none',
  fan_in_fan_out: true,
  base_model_name_or_path: null,
  inference_mode: false,
};
