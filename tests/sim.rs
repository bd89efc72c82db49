//! The safe MuJoCo layer: loading and its errors, name lookup, field slices, snapshots.

use metarl::paths;
use metarl::sim::{Data, Model, ObjType, SimError};

const PENDULUM: &str = r#"
<mujoco>
  <option timestep="0.002"/>
  <worldbody>
    <body name="pole" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0.1"/>
      <geom name="rod" type="capsule" fromto="0 0 0 0 0 -0.5" size="0.05" mass="1"/>
      <site name="tip" pos="0 0 -0.5"/>
    </body>
  </worldbody>
  <actuator><motor name="torque" joint="hinge" gear="2" ctrlrange="-1 1"/></actuator>
</mujoco>"#;

fn cheetah() -> Model {
    Model::from_xml_path(paths::gymnasium_assets().join("half_cheetah.xml")).unwrap()
}

#[test]
fn mjcf_errors_carry_mujocos_message_and_the_source() {
    let broken = PENDULUM.replace("type=\"hinge\"", "type=\"hinj\"");
    let message = Model::from_xml_str(&broken).err().unwrap().to_string();
    assert!(message.contains("<xml string>") && message.contains("hinj"), "{message}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.xml");
    std::fs::write(&file, "<mujoco><worldbody><body><geom type=\"sphere\"/></body></worldbody>").unwrap();
    let message = Model::from_xml_path(&file).err().unwrap().to_string();
    assert!(message.contains("bad.xml") && message.to_lowercase().contains("xml"), "{message}");

    let missing = Model::from_xml_path(dir.path().join("nope.xml")).err().unwrap();
    assert!(matches!(missing, SimError::Load { ref message, .. } if message == "no such file"));
}

#[test]
fn name_lookup_finds_ids_and_suggests_near_misses() {
    let model = cheetah();
    let torso = model.body_id("torso").unwrap();
    assert_eq!(model.name(ObjType::Body, torso).as_deref(), Some("torso"));
    assert_eq!(model.joint_id("bthigh").unwrap(), model.names(ObjType::Joint).iter().position(|n| n == "bthigh").unwrap());
    match model.body_id("torsoo") {
        Err(SimError::UnknownName { kind: "body", suggestion: Some(s), .. }) => assert_eq!(s, "torso"),
        other => panic!("expected a suggestion, got {:?}", other.map_err(|e| e.to_string())),
    }
    assert!(model.actuator_id("zzzz").unwrap_err().to_string().contains("no actuator named"));
}

#[test]
fn slices_have_mujocos_sizes_and_write_through() {
    let mut model = Model::from_xml_str(PENDULUM).unwrap();
    assert_eq!((model.nq(), model.nv(), model.nu(), model.nbody(), model.nsite()), (1, 1, 1, 2, 1));
    assert_eq!(model.actuator_ctrlrange(), &[-1.0, 1.0]);
    assert_eq!(model.actuator_gear()[0], 2.0);
    assert_eq!(model.dof_damping(), &[0.1]);
    let mut data = Data::new(&model);
    assert_eq!(data.xpos().len(), 6);
    assert_eq!(data.xquat().len(), 8);
    assert_eq!(data.cfrc_ext().len(), 12);
    // forward() made site_xpos valid: the tip hangs 0.5 below the pivot at height 1.
    let tip = model.site_id("tip").unwrap();
    assert!((data.site_xpos()[3 * tip + 2] - 0.5).abs() < 1e-12);

    // A heavier pole falls differently: writes to the model reach the simulation.
    data.qpos_mut()[0] = 0.5;
    let light = {
        let mut d = Data::new(&model);
        d.qpos_mut()[0] = 0.5;
        d.step(&model, 200).unwrap();
        d.qpos()[0]
    };
    let pole = model.body_id("pole").unwrap();
    model.body_mass_mut()[pole] *= 4.0;
    model.dof_damping_mut()[0] = 5.0;
    let mut heavy = Data::new(&model);
    heavy.qpos_mut()[0] = 0.5;
    heavy.step(&model, 200).unwrap();
    assert!((heavy.qpos()[0] - light).abs() > 1e-3);
}

#[test]
fn snapshot_restore_continues_bit_for_bit() {
    let model = cheetah();
    let mut data = Data::new(&model);
    let drive = |data: &mut Data, t: usize| {
        for (i, c) in data.ctrl_mut().iter_mut().enumerate() {
            *c = ((t * 7 + i * 3) as f64 * 0.37).sin();
        }
    };
    for t in 0..50 {
        drive(&mut data, t);
        data.step(&model, 5).unwrap();
    }
    let snapshot = data.state(&model).unwrap();
    let run = |data: &mut Data| {
        for t in 50..150 {
            drive(data, t);
            data.step(&model, 5).unwrap();
        }
        (data.qpos().to_vec(), data.qvel().to_vec(), data.time())
    };
    let first = run(&mut data);
    let mut fresh = Data::new(&model);
    fresh.set_state(&model, &snapshot).unwrap();
    assert_eq!(run(&mut fresh), first);
    // And reset really returns to qpos0.
    data.reset(&model).unwrap();
    assert_eq!(data.qpos(), model.qpos0());
    assert_eq!(data.time(), 0.0);
}

#[test]
fn data_refuses_a_model_it_was_not_made_from() {
    let cheetah = cheetah();
    let pendulum = Model::from_xml_str(PENDULUM).unwrap();
    let mut data = Data::new(&pendulum);
    assert!(matches!(data.step(&cheetah, 1), Err(SimError::ModelMismatch)));
    let snapshot = Data::new(&cheetah).state(&cheetah).unwrap();
    assert!(matches!(data.set_state(&pendulum, &snapshot), Err(SimError::StateSize { .. })));
    // A copy of a model is independent of the original.
    let mut copy = pendulum.clone();
    copy.body_mass_mut()[1] = 9.0;
    assert_ne!(pendulum.body_mass()[1], 9.0);
}

#[test]
fn bench_rollouts_are_seeded_and_step_models_without_actuators() {
    let dir = tempfile::tempdir().unwrap();
    let passive = dir.path().join("passive.xml");
    std::fs::write(&passive, PENDULUM.replace("<body name=\"pole\" pos=\"0 0 1\">", "<body name=\"pole\" pos=\"0 0 1\" euler=\"0 60 0\">")
        .replace("<actuator><motor name=\"torque\" joint=\"hinge\" gear=\"2\" ctrlrange=\"-1 1\"/></actuator>", "")).unwrap();
    let swing = metarl::bench::step_rate(&passive, 300, 0).unwrap();
    assert_eq!((swing.nu, swing.steps), (0, 300));
    assert!(swing.final_mean_abs_qvel > 0.1, "the tilted pole must swing");

    let cheetah = paths::gymnasium_assets().join("half_cheetah.xml");
    let a = metarl::bench::step_rate(&cheetah, 500, 3).unwrap();
    let b = metarl::bench::step_rate(&cheetah, 500, 3).unwrap();
    let c = metarl::bench::step_rate(&cheetah, 500, 4).unwrap();
    assert_eq!(a.final_mean_abs_qvel, b.final_mean_abs_qvel);
    assert_ne!(a.final_mean_abs_qvel, c.final_mean_abs_qvel);
}
