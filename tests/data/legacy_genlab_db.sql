-- A genlab.db written by the run store before migrations (commit d368629), dumped with sqlite3 iterdump.
BEGIN TRANSACTION;
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL
);
INSERT INTO "api_keys" VALUES('abc5a027','legacy key','086f858855290c3318cdafd3b69839e1f17dc07f36206159adea591ccf5f0b39',1.79658104092608022694e+09,NULL);
CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    step INTEGER,
    created_at REAL NOT NULL,
    meta TEXT
);
INSERT INTO "artifacts" VALUES(1,'legacy-run-0','sample','s','samples/s.png',4,1.79658104085228705407e+09,'{"n": 4}');
INSERT INTO "artifacts" VALUES(2,'legacy-run-1','sample','s','samples/s.png',4,1.79658104088058948521e+09,'{"n": 4}');
INSERT INTO "artifacts" VALUES(3,'legacy-run-2','sample','s','samples/s.png',4,1.79658104092546939845e+09,'{"n": 4}');
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    time REAL NOT NULL,
    source TEXT NOT NULL,
    prompt TEXT NOT NULL,
    output TEXT NOT NULL,
    rating INTEGER NOT NULL,
    correction TEXT,
    system_prompt TEXT NOT NULL DEFAULT ''
);
INSERT INTO "feedback" VALUES(1,'legacy-run-0',1.79658104092652201651e+09,'api','hi','hello',1,NULL,'');
CREATE TABLE links (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    meta TEXT
);
INSERT INTO "links" VALUES('legacy-run-2','pruned_from','legacy-run-0',1.79658104092591118811e+09,'{"amount": 0.5}');
CREATE TABLE metrics (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    epoch INTEGER,
    key TEXT NOT NULL,
    value REAL,
    time REAL NOT NULL
);
INSERT INTO "metrics" VALUES('legacy-run-0',0,0,'train/loss',1.0,1.79658104085176658628e+09);
INSERT INTO "metrics" VALUES('legacy-run-0',0,0,'val/loss',2.0,1.79658104085176658628e+09);
INSERT INTO "metrics" VALUES('legacy-run-0',1,0,'train/loss',0.5,1796581040.85189);
INSERT INTO "metrics" VALUES('legacy-run-0',1,0,'val/loss',1.0,1796581040.85189);
INSERT INTO "metrics" VALUES('legacy-run-0',2,0,'train/loss',3.33333333333333314829e-01,1.79658104085195589067e+09);
INSERT INTO "metrics" VALUES('legacy-run-0',2,0,'val/loss',6.66666666666666629659e-01,1.79658104085195589067e+09);
INSERT INTO "metrics" VALUES('legacy-run-0',3,0,'train/loss',0.25,1.796581040852016449e+09);
INSERT INTO "metrics" VALUES('legacy-run-0',3,0,'val/loss',0.5,1.796581040852016449e+09);
INSERT INTO "metrics" VALUES('legacy-run-0',4,0,'train/loss',0.2,1.79658104085207080843e+09);
INSERT INTO "metrics" VALUES('legacy-run-0',4,0,'val/loss',0.4,1.79658104085207080843e+09);
INSERT INTO "metrics" VALUES('legacy-run-1',0,0,'train/loss',1.0,1.79658104088019132619e+09);
INSERT INTO "metrics" VALUES('legacy-run-1',0,0,'val/loss',2.0,1.79658104088019132619e+09);
INSERT INTO "metrics" VALUES('legacy-run-1',1,0,'train/loss',0.5,1796581040.88029);
INSERT INTO "metrics" VALUES('legacy-run-1',1,0,'val/loss',1.0,1796581040.88029);
INSERT INTO "metrics" VALUES('legacy-run-1',2,0,'train/loss',3.33333333333333314829e-01,1.79658104088035106655e+09);
INSERT INTO "metrics" VALUES('legacy-run-1',2,0,'val/loss',6.66666666666666629659e-01,1.79658104088035106655e+09);
INSERT INTO "metrics" VALUES('legacy-run-1',3,0,'train/loss',0.25,1.79658104088040232655e+09);
INSERT INTO "metrics" VALUES('legacy-run-1',3,0,'val/loss',0.5,1.79658104088040232655e+09);
INSERT INTO "metrics" VALUES('legacy-run-1',4,0,'train/loss',0.2,1.79658104088044381137e+09);
INSERT INTO "metrics" VALUES('legacy-run-1',4,0,'val/loss',0.4,1.79658104088044381137e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',0,0,'train/loss',1.0,1.79658104092516708377e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',0,0,'val/loss',2.0,1.79658104092516708377e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',1,0,'train/loss',0.5,1.79658104092524218559e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',1,0,'val/loss',1.0,1.79658104092524218559e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',2,0,'train/loss',3.33333333333333314829e-01,1.79658104092528247835e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',2,0,'val/loss',6.66666666666666629659e-01,1.79658104092528247835e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',3,0,'train/loss',0.25,1.79658104092531943326e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',3,0,'val/loss',0.5,1.79658104092531943326e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',4,0,'train/loss',0.2,1.79658104092535734173e+09);
INSERT INTO "metrics" VALUES('legacy-run-2',4,0,'val/loss',0.4,1.79658104092535734173e+09);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    family TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    hparams TEXT,
    data_name TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    pid INTEGER,
    host TEXT,
    heartbeat REAL,
    error TEXT,
    parent_id TEXT,
    sweep_id TEXT,
    trial_id INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '',
    step INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER,
    eta_s REAL,
    monitor TEXT,
    best_value REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    resume_requested INTEGER NOT NULL DEFAULT 0,
    resume_count INTEGER NOT NULL DEFAULT 0,
    warning TEXT,
    wandb TEXT,
    secret_holder TEXT,
    queued_at REAL
);
INSERT INTO "runs" VALUES('legacy-run-0','legacy-0','vae','completed','family: vae
name: legacy-0
seed: 42
tags:
- old
- t0
notes: ''''
data:
  source: builtin
  name: digits
  image_size: 16
  color_mode: auto
  val_fraction: 0.1
  batch_size: 16
  max_items: 96
  hflip: false
  num_workers: 0
  hf_split: train
  hf_image_column: image
  hf_label_column: label
model:
  latent_dim: 4
  base_width: 8
  beta: 1.0
  kl_warmup_steps: 0
  reconstruction: bce
optim:
  optimizer: adam
  beta1: 0.9
  beta2: 0.999
  weight_decay: 0.0
  schedule: constant
  warmup_steps: 0
  min_lr_ratio: 0.1
  step_size: 10
  gamma: 0.5
  lr: 0.002
  plateau_patience: 3
trainer:
  max_epochs: 1
  max_steps: -1
  accelerator: auto
  devices: auto
  num_nodes: 1
  strategy: auto
  precision: auto
  deterministic: false
  gradient_clip_val: 0.0
  accumulate_grad_batches: 1
  limit_train_batches: 4
  limit_val_batches: 2
  val_every_n_epochs: 1
  log_every_n_steps: 1
  early_stopping_patience: 0
  checkpoint_every_n_steps: 0
  compile: false
  channels_last: false
logging:
  sample_every_n_steps: 2
  n_samples: 8
  wandb: ''off''
  wandb_project: genlab
  wandb_entity: null
','{"lr": 0.001}','digits',1.79658104083089566228e+09,NULL,1.79658104092553949355e+09,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'["old", "t0"]','',4,0,5,NULL,'val/loss',0.25,0,0,0,NULL,'{"id": "abc", "mode": "offline"}',NULL,1.79658104083089566228e+09);
INSERT INTO "runs" VALUES('legacy-run-1','legacy-1','vae','failed','family: vae
name: legacy-1
seed: 42
tags:
- old
- t1
notes: ''''
data:
  source: builtin
  name: digits
  image_size: 16
  color_mode: auto
  val_fraction: 0.1
  batch_size: 16
  max_items: 96
  hflip: false
  num_workers: 0
  hf_split: train
  hf_image_column: image
  hf_label_column: label
model:
  latent_dim: 4
  base_width: 8
  beta: 1.0
  kl_warmup_steps: 0
  reconstruction: bce
optim:
  optimizer: adam
  beta1: 0.9
  beta2: 0.999
  weight_decay: 0.0
  schedule: constant
  warmup_steps: 0
  min_lr_ratio: 0.1
  step_size: 10
  gamma: 0.5
  lr: 0.002
  plateau_patience: 3
trainer:
  max_epochs: 1
  max_steps: -1
  accelerator: auto
  devices: auto
  num_nodes: 1
  strategy: auto
  precision: auto
  deterministic: false
  gradient_clip_val: 0.0
  accumulate_grad_batches: 1
  limit_train_batches: 4
  limit_val_batches: 2
  val_every_n_epochs: 1
  log_every_n_steps: 1
  early_stopping_patience: 0
  checkpoint_every_n_steps: 0
  compile: false
  channels_last: false
logging:
  sample_every_n_steps: 2
  n_samples: 8
  wandb: ''off''
  wandb_project: genlab
  wandb_entity: null
',NULL,'digits',1.79658104085508298877e+09,NULL,1.79658104092567276954e+09,NULL,NULL,NULL,'boom',NULL,NULL,NULL,'["old", "t1"]','',0,0,NULL,NULL,'val/loss',NULL,0,0,0,NULL,NULL,NULL,1.79658104085508298877e+09);
INSERT INTO "runs" VALUES('legacy-run-2','legacy-2','vae','queued','family: vae
name: legacy-2
seed: 42
tags:
- old
- t2
notes: ''''
data:
  source: builtin
  name: digits
  image_size: 16
  color_mode: auto
  val_fraction: 0.1
  batch_size: 16
  max_items: 96
  hflip: false
  num_workers: 0
  hf_split: train
  hf_image_column: image
  hf_label_column: label
model:
  latent_dim: 4
  base_width: 8
  beta: 1.0
  kl_warmup_steps: 0
  reconstruction: bce
optim:
  optimizer: adam
  beta1: 0.9
  beta2: 0.999
  weight_decay: 0.0
  schedule: constant
  warmup_steps: 0
  min_lr_ratio: 0.1
  step_size: 10
  gamma: 0.5
  lr: 0.002
  plateau_patience: 3
trainer:
  max_epochs: 1
  max_steps: -1
  accelerator: auto
  devices: auto
  num_nodes: 1
  strategy: auto
  precision: auto
  deterministic: false
  gradient_clip_val: 0.0
  accumulate_grad_batches: 1
  limit_train_batches: 4
  limit_val_batches: 2
  val_every_n_epochs: 1
  log_every_n_steps: 1
  early_stopping_patience: 0
  checkpoint_every_n_steps: 0
  compile: false
  channels_last: false
logging:
  sample_every_n_steps: 2
  n_samples: 8
  wandb: ''off''
  wandb_project: genlab
  wandb_entity: null
',NULL,'digits',1.79658104090809774399e+09,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'["old", "t2"]','',0,0,NULL,NULL,'val/loss',NULL,0,0,0,NULL,NULL,NULL,1.79658104090809774399e+09);
CREATE TABLE safety_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    time REAL NOT NULL,
    path TEXT NOT NULL,
    action TEXT NOT NULL,
    screener TEXT,
    scores TEXT,
    flagged TEXT,
    sha256 TEXT NOT NULL,
    text TEXT
);
INSERT INTO "safety_events" VALUES(1,'legacy-run-0',1.79658104092597532275e+09,'sample','pass','x','{"tox": 0.1}','[]','0000000000000000000000000000000000000000000000000000000000000000',NULL);
CREATE INDEX runs_status ON runs(status, created_at);
CREATE INDEX runs_sweep ON runs(sweep_id);
CREATE UNIQUE INDEX metrics_run_key_step ON metrics(run_id, key, step);
CREATE INDEX metrics_run_rowid ON metrics(run_id);
CREATE INDEX artifacts_run ON artifacts(run_id, kind, step);
CREATE INDEX links_run ON links(run_id);
CREATE INDEX links_target ON links(target_id);
CREATE INDEX safety_events_run ON safety_events(run_id, time);
CREATE INDEX feedback_run ON feedback(run_id, time);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('artifacts',3);
INSERT INTO "sqlite_sequence" VALUES('safety_events',1);
INSERT INTO "sqlite_sequence" VALUES('feedback',1);
COMMIT;
